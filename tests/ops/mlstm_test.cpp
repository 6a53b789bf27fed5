#include "xlstm/ops/mlstm.h"

#include <cmath>

#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm::ops::mlstm {
namespace {

using test::max_rel_diff;

struct Inputs {
  torch::Tensor q, k, v, igate, fgate;
};

Inputs random_inputs(int64_t batch, int64_t heads, int64_t seq, int64_t head_dim,
                     torch::ScalarType dtype = torch::kFloat64, double gate_scale = 1.0) {
  const auto options = torch::TensorOptions().dtype(dtype);
  return {torch::randn({batch, heads, seq, head_dim}, options),
          torch::randn({batch, heads, seq, head_dim}, options),
          torch::randn({batch, heads, seq, head_dim}, options),
          gate_scale * torch::randn({batch, heads, seq, 1}, options),
          gate_scale * torch::randn({batch, heads, seq, 1}, options) + 2.0};
}

CellState random_state(int64_t batch, int64_t heads, int64_t head_dim) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  return {torch::randn({batch, heads, head_dim, head_dim}, options),
          torch::randn({batch, heads, head_dim, 1}, options),
          torch::randn({batch, heads, 1, 1}, options)};
}

// The unstabilised mLSTM (paper eqs. 19-21) as an explicit loop in float64, with eps = 0:
// h_t = sum_j w_tj (q_t . k_j / sqrt(DH)) v_j / max(|sum_j w_tj q_t . k_j / sqrt(DH)|, 1),
// w_tj = exp(i_j + sum_{j < s <= t} log sigmoid(f_s)).
torch::Tensor reference_loop(const Inputs& in) {
  const int64_t seq = in.q.size(2), head_dim = in.q.size(3);
  const auto log_f = torch::log_sigmoid(in.fgate).squeeze(-1);  // [B, NH, S]
  std::vector<torch::Tensor> outputs;
  for (int64_t t = 0; t < seq; ++t) {
    auto numerator = torch::zeros_like(in.q.select(2, t));
    auto denominator = torch::zeros_like(in.q.select(2, t).narrow(-1, 0, 1));
    for (int64_t j = 0; j <= t; ++j) {
      const auto weight = torch::exp(in.igate.select(2, j) +
                                     log_f.narrow(2, j + 1, t - j).sum(-1, true));  // [B, NH, 1]
      const auto score = (in.q.select(2, t) * in.k.select(2, j)).sum(-1, true) /
                         std::sqrt(static_cast<double>(head_dim));
      numerator += weight * score * in.v.select(2, j);
      denominator += weight * score;
    }
    outputs.push_back(numerator / torch::clamp_min(denominator.abs(), 1.0));
  }
  return torch::stack(outputs, 2);
}

std::pair<torch::Tensor, CellState> step_loop(const Inputs& in, CellState state) {
  std::vector<torch::Tensor> outputs;
  for (int64_t t = 0; t < in.q.size(2); ++t) {
    auto [h, next] = recurrent_step_stabilized(state, in.q.narrow(2, t, 1), in.k.narrow(2, t, 1),
                                               in.v.narrow(2, t, 1), in.igate.narrow(2, t, 1),
                                               in.fgate.narrow(2, t, 1));
    outputs.push_back(h);
    state = next;
  }
  return {torch::cat(outputs, 2), state};
}

TEST(mLSTMBackends, ParallelMatchesUnstabilisedLoop) {
  torch::manual_seed(0);
  const Inputs in = random_inputs(2, 3, 9, 4);
  const auto h = parallel_stabilized(in.q, in.k, in.v, in.igate, in.fgate, {}, true, 0.0);
  EXPECT_LT(max_rel_diff(h, reference_loop(in)), 1e-12);
  // With a (larger) causal mask passed in, and with the official eps.
  const auto mask = torch::ones({16, 16}, torch::kBool).tril();
  const auto h_mask = parallel_stabilized(in.q, in.k, in.v, in.igate, in.fgate, mask);
  EXPECT_LT(max_rel_diff(h_mask, reference_loop(in)), 1e-5);
}

TEST(mLSTMBackends, ChunkwiseEqualsParallelAndStepLoop) {
  torch::manual_seed(1);
  for (int64_t chunk : {64, 16}) {
    for (int64_t seq : {1, 7, 64, 100, 256}) {
      const Inputs in = random_inputs(2, 2, seq, 8);
      const auto parallel = parallel_stabilized(in.q, in.k, in.v, in.igate, in.fgate);
      const auto [chunked, final_state] =
          chunkwise_stabilized(in.q, in.k, in.v, in.igate, in.fgate, {}, chunk);
      EXPECT_LT(max_rel_diff(chunked, parallel), 1e-10) << "S " << seq << " chunk " << chunk;

      // From the zero state the chunkwise form is the step loop exactly (same stabiliser).
      const auto zeros = CellState::zeros(2, 2, 8, in.q.options());
      const auto [from_zero, zero_final] =
          chunkwise_stabilized(in.q, in.k, in.v, in.igate, in.fgate, zeros, chunk);
      const auto [stepped, step_final] = step_loop(in, zeros);
      EXPECT_LT(max_rel_diff(from_zero, stepped), 1e-10) << "S " << seq << " chunk " << chunk;
      EXPECT_LT(max_rel_diff(zero_final.C, step_final.C), 1e-10);
      EXPECT_LT(max_rel_diff(zero_final.n, step_final.n), 1e-10);
      EXPECT_LT(max_rel_diff(zero_final.m, step_final.m), 1e-12);
      // The zero state differs from "no history" only through eps (1e-6) scaled stabilisers.
      EXPECT_LT(max_rel_diff(from_zero, parallel), 1e-5);
    }
  }
}

TEST(mLSTMBackends, ChunkwiseContinuesFromAnyState) {
  torch::manual_seed(2);
  const Inputs in = random_inputs(2, 3, 45, 4);
  const CellState initial = random_state(2, 3, 4);
  const auto [whole, whole_final] =
      chunkwise_stabilized(in.q, in.k, in.v, in.igate, in.fgate, initial, 8);
  const auto [stepped, step_final] = step_loop(in, initial);
  EXPECT_LT(max_rel_diff(whole, stepped), 1e-10);
  EXPECT_LT(max_rel_diff(whole_final.C, step_final.C), 1e-10);

  // Two pieces with the carried state equal one pass.
  const auto piece = [&](int64_t start, int64_t len, const CellState& state) {
    return chunkwise_stabilized(in.q.narrow(2, start, len), in.k.narrow(2, start, len),
                                in.v.narrow(2, start, len), in.igate.narrow(2, start, len),
                                in.fgate.narrow(2, start, len), state, 8);
  };
  const auto [first, middle_state] = piece(0, 19, initial);
  const auto [second, final_state] = piece(19, 26, middle_state);
  EXPECT_LT(max_rel_diff(torch::cat({first, second}, 2), whole), 1e-10);
  EXPECT_LT(max_rel_diff(final_state.C, whole_final.C), 1e-10);
  EXPECT_LT(max_rel_diff(final_state.n, whole_final.n), 1e-10);
  EXPECT_LT(max_rel_diff(final_state.m, whole_final.m), 1e-12);
}

TEST(mLSTMBackends, ParallelGradcheck) {
  torch::manual_seed(3);
  const Inputs in = random_inputs(1, 2, 5, 3);
  EXPECT_TRUE(test::gradcheck(
      [](const std::vector<torch::Tensor>& x) {
        return parallel_stabilized(x[0], x[1], x[2], x[3], x[4]);
      },
      {in.q, in.k, in.v, in.igate, in.fgate}));
}

TEST(mLSTMBackends, ChunkwiseGradcheck) {
  torch::manual_seed(4);
  const Inputs in = random_inputs(1, 2, 5, 3);
  // No history, chunk 2 (two full chunks and a tail).
  EXPECT_TRUE(test::gradcheck(
      [](const std::vector<torch::Tensor>& x) {
        return chunkwise_stabilized(x[0], x[1], x[2], x[3], x[4], {}, 2).first;
      },
      {in.q, in.k, in.v, in.igate, in.fgate}));
  // From a state, through the output and the final state.
  const CellState initial = random_state(1, 2, 3);
  EXPECT_TRUE(test::gradcheck(
      [](const std::vector<torch::Tensor>& x) {
        const auto [h, state] =
            chunkwise_stabilized(x[0], x[1], x[2], x[3], x[4], {x[5], x[6], x[7]}, 2);
        return torch::cat({h.flatten(), state.C.flatten(), state.n.flatten(), state.m.flatten()});
      },
      {in.q, in.k, in.v, in.igate, in.fgate, initial.C, initial.n, initial.m}));
}

// S = 4096 with gates up to +-50: float32 values and gradients against the same computation in
// float64, and the chunk size does not change the result.
TEST(mLSTMBackends, LongSequenceWithExtremeGatesMatchesFloat64) {
  torch::manual_seed(5);
  const int64_t seq = 4096;
  Inputs in = random_inputs(1, 2, seq, 8, torch::kFloat32);
  in.igate = 50.0 * (2 * torch::rand({1, 2, seq, 1}) - 1);
  in.fgate = 50.0 * (2 * torch::rand({1, 2, seq, 1}) - 1);
  // Positive queries and keys: q . n does not cancel, so the normaliser max(|q . n|, exp(-m)) and
  // with it h are well conditioned and float32 can be held to float64.
  in.q = in.q.abs();
  in.k = in.k.abs();
  const auto run = [&](torch::ScalarType dtype) {
    std::vector<torch::Tensor> leaves;
    for (const auto& t : {in.q, in.k, in.v, in.igate, in.fgate})
      leaves.push_back(t.detach().to(dtype).requires_grad_(true));
    const auto [h, state] =
        chunkwise_stabilized(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4]);
    h.sum().backward();
    std::vector<torch::Tensor> results = {h.detach(), state.C.detach(), state.m.detach()};
    for (const auto& t : {leaves[0], leaves[3], leaves[4]}) results.push_back(t.grad());
    return results;
  };
  const auto ours = run(torch::kFloat32), exact = run(torch::kFloat64);
  // Sums over up to 4096 positions: sqrt(4096) = 64 roundings and more (up to ~92 measured).
  const char* names[] = {"h", "C", "m", "dq", "digate", "dfgate"};
  for (size_t i = 0; i < ours.size(); ++i)
    EXPECT_TRUE(test::close_at_precision(ours[i], exact[i], torch::kFloat32, 128)) << names[i];
  torch::NoGradGuard no_grad;
  const auto h16 = chunkwise_stabilized(in.q, in.k, in.v, in.igate, in.fgate, {}, 16).first;
  EXPECT_TRUE(test::close_at_precision(h16, ours[0], torch::kFloat32, 128));
}

TEST(mLSTMBackends, ReducedPrecisionCloseToFloat32) {
  torch::manual_seed(6);
  const Inputs in = random_inputs(2, 2, 40, 8, torch::kFloat32);
  const auto reference = parallel_stabilized(in.q, in.k, in.v, in.igate, in.fgate);
  for (auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    const auto cast = [&](const torch::Tensor& t) { return t.to(dtype); };
    const auto parallel =
        parallel_stabilized(cast(in.q), cast(in.k), cast(in.v), cast(in.igate), cast(in.fgate));
    EXPECT_EQ(parallel.scalar_type(), dtype);
    EXPECT_TRUE(test::close_at_precision(parallel, reference, dtype, 8));
    const auto [chunked, state] = chunkwise_stabilized(cast(in.q), cast(in.k), cast(in.v),
                                                       cast(in.igate), cast(in.fgate), {}, 16);
    EXPECT_EQ(state.C.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(test::close_at_precision(chunked, reference, dtype, 8));
  }
}

TEST(mLSTMBackends, RejectsBadShapes) {
  const Inputs in = random_inputs(1, 2, 5, 3);
  EXPECT_THROW(parallel_stabilized(in.q, in.k.narrow(2, 0, 4), in.v, in.igate, in.fgate),
               c10::Error);
  EXPECT_THROW(chunkwise_stabilized(in.q, in.k, in.v, in.igate.squeeze(-1), in.fgate), c10::Error);
  EXPECT_THROW(chunkwise_stabilized(in.q, in.k, in.v, in.igate, in.fgate, random_state(1, 2, 4)),
               c10::Error);
  EXPECT_THROW(recurrent_step_stabilized(CellState::zeros(1, 2, 3, in.q.options()), in.q, in.k,
                                         in.v, in.igate, in.fgate),
               c10::Error);
}

}  // namespace
}  // namespace xlstm::ops::mlstm
