// The differentiable chunkwise op on the kernels: ops::mlstm::chunkwise_stabilized on CUDA
// bfloat16 / float16 / float32 inputs (the forward and backward kernels under autograd) against
// float64 autograd of the ATen chunkwise form on the CPU, from the same rounded inputs: a sequence
// in two calls with the memory carried between them, h, the last memory and every gradient, with
// and without an initial memory; and an mLSTM layer whose "auto" backend runs the kernels against
// its "parallel" one. Skipped without a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "support/tolerance.h"
#include "xlstm/blocks/mlstm/layer.h"
#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm {
namespace {

struct OpCase {
  int64_t batch, heads, seq, qk_dim, v_dim;
  bool with_initial;
};

/// The op's inputs as float32 values that every dtype used below holds exactly.
struct OpInputs {
  std::vector<torch::Tensor> tensors;  // q, k, v, igate, fgate[, C, n, m]

  /// Leaves on `device`: q, k, v in `qkv_dtype`, the rest in `other_dtype`.
  OpInputs on(torch::Device device, torch::ScalarType qkv_dtype,
              torch::ScalarType other_dtype) const {
    OpInputs out;
    for (size_t i = 0; i < tensors.size(); ++i) {
      out.tensors.push_back(
          tensors[i].to(device, i < 3 ? qkv_dtype : other_dtype).requires_grad_());
    }
    return out;
  }
  CellState initial() const {
    return tensors.size() > 5 ? CellState{tensors[5], tensors[6], tensors[7]} : CellState{};
  }
};

OpInputs make_inputs(const OpCase& c, torch::ScalarType dtype) {
  const auto qk = [&] { return torch::randn({c.batch, c.heads, c.seq, c.qk_dim}); };
  const auto gate = [&](double scale, double shift) {
    return torch::randn({c.batch, c.heads, c.seq, 1}) * scale + shift;
  };
  OpInputs in;
  in.tensors = {qk(), qk(), torch::randn({c.batch, c.heads, c.seq, c.v_dim}), gate(1.5, 0),
                gate(1.5, 3)};
  if (c.with_initial) {
    in.tensors.push_back(torch::randn({c.batch, c.heads, c.qk_dim, c.v_dim}));
    in.tensors.push_back(torch::randn({c.batch, c.heads, c.qk_dim, 1}));
    in.tensors.push_back(torch::randn({c.batch, c.heads, 1, 1}));
  }
  // Round q, k, v to the kernels' dtype once, so that both sides start from the same numbers.
  for (int i = 0; i < 3; ++i) in.tensors[i] = in.tensors[i].to(dtype).to(torch::kFloat32);
  return in;
}

/// The sequence in two calls, the second from the first's last memory (as a consumer of the
/// memory uses it: its stabiliser m only rescales C and n, so the gradient does not depend on how
/// m was chosen), then sum(h * weight). Returns (h, the last memory).
std::pair<torch::Tensor, CellState> two_calls_and_backward(const OpInputs& in,
                                                           const torch::Tensor& weight) {
  const auto& t = in.tensors;
  const int64_t seq = t[0].size(2), split = std::max<int64_t>(1, seq / 2);
  const auto part = [&](int64_t start, int64_t length) {
    std::vector<torch::Tensor> p;
    for (int i = 0; i < 5; ++i) p.push_back(t[i].narrow(2, start, length));
    return p;
  };
  const auto first = part(0, split);
  auto [h, last] =
      chunkwise_stabilized(first[0], first[1], first[2], first[3], first[4], in.initial());
  if (split < seq) {
    const auto second = part(split, seq - split);
    auto [h2, last2] =
        chunkwise_stabilized(second[0], second[1], second[2], second[3], second[4], last);
    h = torch::cat({h, h2}, 2);
    last = last2;
  }
  (h.to(torch::kFloat64) * weight.to(h.device())).sum().backward();
  return {h, last};
}

/// The roundings of close_at_precision: `of_element_type` for bfloat16 / float16; for float32 (the
/// SIMT kernels, float32 arithmetic) 1e-4 of max |reference| (issue 12).
double roundings(torch::ScalarType dtype, double of_element_type) {
  return dtype == torch::kFloat32 ? 1e-4 / test::epsilon(torch::kFloat32) : of_element_type;
}

void expect_op_equals_float64(const OpCase& c, torch::ScalarType dtype) {
  torch::manual_seed(11);
  const OpInputs base = make_inputs(c, dtype);
  const torch::Tensor weight = torch::randn({c.batch, c.heads, c.seq, c.v_dim}, torch::kFloat64);
  const std::string what = "B" + std::to_string(c.batch) + " NH" + std::to_string(c.heads) + " S" +
                           std::to_string(c.seq) + " DH " + std::to_string(c.qk_dim) + "/" +
                           std::to_string(c.v_dim) + (c.with_initial ? " from a state " : " ") +
                           c10::toString(dtype);

  const OpInputs ref = base.on(torch::kCPU, torch::kFloat64, torch::kFloat64);
  const auto [h_ref, last_ref] = two_calls_and_backward(ref, weight);

  const OpInputs gpu = base.on(torch::kCUDA, dtype, torch::kFloat32);
  const auto& g = gpu.tensors;
  ASSERT_TRUE(chunkwise_uses_kernels(g[0], g[1], g[2], g[3], g[4], gpu.initial())) << what;
  const auto [h, last] = two_calls_and_backward(gpu, weight);
  EXPECT_EQ(h.scalar_type(), dtype) << what;
  EXPECT_EQ(last.C.scalar_type(), torch::kFloat32) << what;

  // Forward: h rounded once, the products' operands (P, C_c, the weighted keys) once each.
  EXPECT_TRUE(test::close_at_precision(h, h_ref, dtype, roundings(dtype, 8))) << what << ": h";
  EXPECT_TRUE(test::close_at_precision(last.C, last_ref.C, dtype, roundings(dtype, 8)))
      << what << ": C";
  EXPECT_TRUE(test::close_at_precision(last.n, last_ref.n, dtype, roundings(dtype, 8)))
      << what << ": n";
  EXPECT_TRUE(test::close_at_precision(last.m, last_ref.m, torch::kFloat32, 4)) << what << ": m";
  // Backward: dh arrives rounded, and the recomputed intermediates add their roundings. (m0 has
  // no gradient: the kernels treat the stabiliser as a constant.)
  const char* names[] = {"dq", "dk", "dv", "digate", "dfgate", "dC0", "dn0"};
  for (size_t i = 0; i < g.size() && i < 7; ++i) {
    ASSERT_TRUE(g[i].grad().defined()) << what << ": " << names[i];
    EXPECT_TRUE(
        test::close_at_precision(g[i].grad(), ref.tensors[i].grad(), dtype, roundings(dtype, 32)))
        << what << ": " << names[i];
  }
}

TEST(ChunkwiseOpCuda, ForwardAndGradientsEqualFloat64Autograd) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const OpCase cases[] = {{2, 3, 200, 64, 64, false},   // S not a multiple of any chunk size
                          {1, 2, 130, 128, 320, true},  // from a state, DHqk != DHv
                          {2, 1, 1, 64, 128, true},     // one position
                          {1, 2, 256, 256, 512, false}};
  for (const auto& c : cases) {
    expect_op_equals_float64(c, torch::kBFloat16);
    expect_op_equals_float64(c, torch::kFloat16);
    expect_op_equals_float64(c, torch::kFloat32);
  }
}

TEST(ChunkwiseOpCuda, LayerAutoBackendEqualsParallel) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(12);
  mLSTMLayerConfig config;
  config.embedding_dim = 64;
  config.num_heads = 2;
  config.context_length = 96;
  mLSTMLayer automatic(config);
  config.backend = "parallel";
  mLSTMLayer parallel(config);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : automatic->parameters()) p.add_(torch::randn_like(p), 0.1);
    const auto src = automatic->named_parameters();
    for (auto& item : parallel->named_parameters()) item.value().copy_(src[item.key()]);
  }
  automatic->to(torch::kCUDA, torch::kBFloat16);
  parallel->to(torch::kCUDA, torch::kBFloat16);
  const torch::Tensor x = torch::randn({2, 96, 64}, torch::kCUDA).to(torch::kBFloat16);
  const torch::Tensor y_auto = automatic(x), y_parallel = parallel(x);
  y_auto.to(torch::kFloat32).square().sum().backward();
  y_parallel.to(torch::kFloat32).square().sum().backward();
  EXPECT_TRUE(test::close_at_precision(y_auto, y_parallel, torch::kBFloat16, 16));
  const auto grads = parallel->named_parameters();
  for (const auto& item : automatic->named_parameters()) {
    EXPECT_TRUE(test::close_at_precision(item.value().grad(), grads[item.key()].grad(),
                                         torch::kBFloat16, 64))
        << item.key();
  }
}

}  // namespace
}  // namespace xlstm::ops::mlstm
