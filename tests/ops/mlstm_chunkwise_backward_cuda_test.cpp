// The chunkwise mLSTM backward kernels (detail::chunkwise_kernel_backward, on CUDA tensors;
// skipped without a GPU; bfloat16, float16 and float32) against float64 autograd of
// chunkwise_stabilized on the CPU: dq, dk, dv,
// the gate gradients and those of the initial memory, over head dims, chunk sizes, sequences not a
// multiple of the chunk, S = 1, B = 1 and odd head counts, and the backward at chunk 128 on tensors
// saved at 64 (as the forward kernel writes them); and finite gradients for extreme gates over
// 8192 positions. The forward kernel's saved tensors come from contract_saved below (the math
// of kernels/mlstm/chunkwise_kernels.h in float64, then cast as the kernels keep them).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ops/mlstm/chunkwise_cuda.h"
#include "support/tolerance.h"
#include "xlstm/ops/mlstm.h"

#ifdef XLSTM_WITH_CUDA

namespace xlstm::ops::mlstm {
namespace {

using torch::Tensor;
constexpr double kEps = 1e-6;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Inputs rounded to the element type once, the float64 reference sees the same numbers. bf16 and
// fp16 errors come from h, dh, the saved C_c and the kernels' element-type operands (P / N, dS,
// dC_{c+1} and the scaled queries), each rounded once, with float32 accumulation: measured at most
// 0.7 units of epsilon(dtype) of the largest gradient on these shapes; 4 allows for the spread.
// float32 (the SIMT kernels, float32 arithmetic throughout): 1e-4 of the largest gradient
// (issue 12).
double roundings(torch::ScalarType dtype) {
  return dtype == torch::kFloat32 ? 1e-4 / test::epsilon(torch::kFloat32) : 4.0;
}

struct Case {
  int64_t batch, heads, seq, qk_dim, v_dim, chunk;  // chunk: the one the tensors are saved at
  bool initial, dlast;
  int64_t backward_chunk = 0;  // the backward's chunk size; 0: `chunk`

  int64_t backward_at() const { return backward_chunk > 0 ? backward_chunk : chunk; }
};

std::string describe(const Case& c, torch::ScalarType dtype) {
  return std::string(c10::toString(dtype)) + " B" + std::to_string(c.batch) + " NH" +
         std::to_string(c.heads) + " S" + std::to_string(c.seq) + " DHqk" +
         std::to_string(c.qk_dim) + " DHv" + std::to_string(c.v_dim) + " L" +
         std::to_string(c.chunk) + " backward L" + std::to_string(c.backward_at()) +
         (c.initial ? " initial" : "") + (c.dlast ? " dlast" : "");
}

/// The forward kernel's saved tensors, from the contract's math in float64: q, k, v [B, NH, S, *],
/// gates [B, NH, S] (all float64), `initial` undefined or C, n [B, NH, DHqk], m [B, NH].
detail::ChunkwiseKernelSaved contract_saved(const Tensor& q, const Tensor& k, const Tensor& v,
                                            const Tensor& igate, const Tensor& fgate,
                                            const CellState& initial, int64_t L) {
  const int64_t B = q.size(0), NH = q.size(1), S = q.size(2), DK = q.size(3), DV = v.size(3);
  const int64_t NC = (S + L - 1) / L, pad = NC * L - S;
  namespace F = torch::nn::functional;
  const auto pad_rows = [&](const Tensor& x) {
    return F::pad(x, F::PadFuncOptions({0, 0, 0, pad}));
  };
  const Tensor qp = pad_rows(q), kp = pad_rows(k / std::sqrt(double(DK))), vp = pad_rows(v);
  const Tensor lf = F::pad(torch::log_sigmoid(fgate), F::PadFuncOptions({0, pad}));
  const Tensor ip = F::pad(igate, F::PadFuncOptions({0, pad}).value(kNegInf));
  Tensor C = initial.defined() ? initial.C : torch::zeros({B, NH, DK, DV}, q.options());
  Tensor n = initial.defined() ? initial.n : torch::zeros({B, NH, DK}, q.options());
  Tensor m = initial.defined() ? initial.m : torch::full({B, NH}, kNegInf, q.options());
  const Tensor causal = torch::ones({L, L}, q.options().dtype(torch::kBool)).tril();
  std::vector<Tensor> chunk_C, chunk_n, chunk_m, row_m, row_den;
  for (int64_t c = 0; c < NC; ++c) {
    const Tensor qc = qp.narrow(2, c * L, L), kc = kp.narrow(2, c * L, L),
                 vc = vp.narrow(2, c * L, L), ic = ip.narrow(2, c * L, L);
    const Tensor b = lf.narrow(2, c * L, L).cumsum(-1), g = b.select(-1, L - 1);
    const Tensor log_d = torch::where(causal, b.unsqueeze(-1) - b.unsqueeze(-2) + ic.unsqueeze(-2),
                                      torch::full({}, kNegInf, q.options()));
    const Tensor m_t = torch::maximum(log_d.amax(-1), b + m.unsqueeze(-1));
    const Tensor alpha = torch::exp(b + m.unsqueeze(-1) - m_t);
    const Tensor p =
        torch::matmul(qc, kc.transpose(-1, -2)) * torch::exp(log_d - m_t.unsqueeze(-1));
    chunk_C.push_back(C);
    chunk_n.push_back(n);
    chunk_m.push_back(m);
    row_m.push_back(m_t);
    row_den.push_back(alpha * (qc * n.unsqueeze(-2)).sum(-1) + p.sum(-1));
    const Tensor a = g.unsqueeze(-1) - b + ic;
    const Tensor m_next = torch::maximum(g + m, a.amax(-1));
    const Tensor decay = torch::exp(g + m - m_next);
    const Tensor wk = kc * torch::exp(a - m_next.unsqueeze(-1)).unsqueeze(-1);
    C = decay.unsqueeze(-1).unsqueeze(-1) * C + torch::matmul(wk.transpose(-1, -2), vc);
    n = decay.unsqueeze(-1) * n + wk.sum(-2);
    m = m_next;
  }
  detail::ChunkwiseKernelSaved saved;
  saved.chunk_C = torch::stack(chunk_C, 2);
  saved.chunk_n = torch::stack(chunk_n, 2);
  saved.chunk_m = torch::stack(chunk_m, 2);
  saved.row_m = torch::cat(row_m, 2).narrow(2, 0, S);
  saved.row_den = torch::cat(row_den, 2).narrow(2, 0, S);
  saved.chunk_size = L;
  return saved;
}

/// The saved tensors on the GPU as the kernels keep them: C_c in the element type, the rest
/// float32.
detail::ChunkwiseKernelSaved as_kept(const detail::ChunkwiseKernelSaved& s,
                                     torch::ScalarType dtype) {
  const auto gpu = [](const Tensor& t, torch::ScalarType type) {
    return t.to(torch::kCUDA, type).contiguous();
  };
  detail::ChunkwiseKernelSaved kept;
  kept.chunk_C = gpu(s.chunk_C, dtype);
  kept.chunk_n = gpu(s.chunk_n, torch::kFloat32);
  kept.chunk_m = gpu(s.chunk_m, torch::kFloat32);
  kept.row_m = gpu(s.row_m, torch::kFloat32);
  kept.row_den = gpu(s.row_den, torch::kFloat32);
  kept.chunk_size = s.chunk_size;
  return kept;
}

/// Inputs in float64 on the CPU (q, k, v and dh already rounded to dtype), gates [B, NH, S, 1].
struct Inputs {
  Tensor q, k, v, igate, fgate, dh;
  CellState initial, dlast;  // initial m and the float64 C, n; dlast C and n
};

Inputs make_inputs(const Case& c, torch::ScalarType dtype, double gate_scale) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const auto rounded = [&](std::vector<int64_t> shape) {
    return torch::randn(shape, f64).to(dtype).to(torch::kFloat64);
  };
  Inputs in;
  in.q = rounded({c.batch, c.heads, c.seq, c.qk_dim});
  in.k = rounded({c.batch, c.heads, c.seq, c.qk_dim});
  in.v = rounded({c.batch, c.heads, c.seq, c.v_dim});
  in.dh = rounded({c.batch, c.heads, c.seq, c.v_dim});
  in.igate = gate_scale * torch::randn({c.batch, c.heads, c.seq, 1}, f64);
  in.fgate = 3.0 + gate_scale * torch::randn({c.batch, c.heads, c.seq, 1}, f64);
  if (c.initial)
    in.initial = {torch::randn({c.batch, c.heads, c.qk_dim, c.v_dim}, f64),
                  torch::randn({c.batch, c.heads, c.qk_dim, 1}, f64),
                  torch::randn({c.batch, c.heads, 1, 1}, f64)};
  if (c.dlast)
    in.dlast = {torch::randn({c.batch, c.heads, c.qk_dim, c.v_dim}, f64),
                torch::randn({c.batch, c.heads, c.qk_dim, 1}, f64), Tensor()};
  return in;
}

/// The contract's saved tensors and h for `in` (float64 on the CPU).
std::pair<detail::ChunkwiseKernelSaved, Tensor> forward_of(const Inputs& in, int64_t L) {
  torch::NoGradGuard no_grad;
  const CellState flat = in.initial.defined() ? CellState{in.initial.C, in.initial.n.squeeze(-1),
                                                          in.initial.m.squeeze(-1).squeeze(-1)}
                                              : CellState{};
  auto saved =
      contract_saved(in.q, in.k, in.v, in.igate.squeeze(-1), in.fgate.squeeze(-1), flat, L);
  Tensor h = chunkwise_stabilized(in.q, in.k, in.v, in.igate, in.fgate, in.initial, L, kEps).first;
  return {saved, h};
}

/// The backward kernels at chunk size `chunk` on `saved`.
detail::ChunkwiseKernelGradients run_kernels(const Inputs& in, torch::ScalarType dtype,
                                             const Tensor& h,
                                             const detail::ChunkwiseKernelSaved& saved,
                                             int64_t chunk) {
  const auto gpu = [](const Tensor& t, torch::ScalarType type) {
    return t.defined() ? t.to(torch::kCUDA, type) : t;
  };
  const CellState initial = in.initial.defined() ? CellState{gpu(in.initial.C, torch::kFloat32),
                                                             gpu(in.initial.n, torch::kFloat32),
                                                             gpu(in.initial.m, torch::kFloat32)}
                                                 : CellState{};
  const CellState dlast{gpu(in.dlast.C, torch::kFloat32), gpu(in.dlast.n, torch::kFloat32),
                        Tensor()};
  return detail::chunkwise_kernel_backward(
      gpu(in.q, dtype), gpu(in.k, dtype), gpu(in.v, dtype), gpu(in.igate, torch::kFloat32),
      gpu(in.fgate, torch::kFloat32), initial, gpu(h, dtype), as_kept(saved, dtype),
      gpu(in.dh, dtype), dlast, kEps, chunk);
}

void expect_gradients_match_autograd(const Case& c, torch::ScalarType dtype) {
  torch::manual_seed(c.seq * 31 + c.qk_dim);
  const Inputs in = make_inputs(c, dtype, 1.0);
  const auto [saved, h] = forward_of(in, c.chunk);
  const auto grads = run_kernels(in, dtype, h, saved, c.backward_at());

  // The float64 reference: autograd of the ATen chunkwise form.
  std::vector<Tensor> leaves = {in.q.clone().requires_grad_(), in.k.clone().requires_grad_(),
                                in.v.clone().requires_grad_(), in.igate.clone().requires_grad_(),
                                in.fgate.clone().requires_grad_()};
  CellState initial;
  if (c.initial) {
    leaves.push_back(in.initial.C.clone().requires_grad_());
    leaves.push_back(in.initial.n.clone().requires_grad_());
    initial = {leaves[5], leaves[6], in.initial.m};
  }
  auto [h_ref, last] = chunkwise_stabilized(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4],
                                            initial, c.chunk, kEps);
  Tensor loss = (h_ref * in.dh).sum();
  if (c.dlast) {
    // The kernels hold every stabiliser constant (chunkwise_kernels.h); autograd of the ATen form
    // also follows m_last, by which the stabilised C_last, n_last scale as exp(-m_last). A consumer
    // of (C, n, m) together sends back dm_last = -(<dC_last, C_last> + <dn_last, n_last>), which
    // cancels that path: the term below does so here.
    const Tensor dlast_dot = (last.C * in.dlast.C).sum({2, 3}) + (last.n * in.dlast.n).sum({2, 3});
    loss = loss + dlast_dot.sum() + (last.m.flatten(1) * dlast_dot.detach()).sum();
  }
  const auto ref = torch::autograd::grad({loss}, leaves);

  const std::string what = describe(c, dtype);
  const std::vector<std::pair<const char*, Tensor>> got = {{"dq", grads.dq},
                                                           {"dk", grads.dk},
                                                           {"dv", grads.dv},
                                                           {"digate", grads.digate},
                                                           {"dfgate", grads.dfgate},
                                                           {"dC_initial", grads.dinitial.C},
                                                           {"dn_initial", grads.dinitial.n}};
  for (std::size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(got[i].second.defined()) << what << " " << got[i].first;
    EXPECT_TRUE(got[i].second.is_cuda()) << what << " " << got[i].first;
    EXPECT_TRUE(test::close_at_precision(got[i].second, ref[i], dtype, roundings(dtype)))
        << what << " " << got[i].first;
  }
  EXPECT_EQ(grads.dq.scalar_type(), dtype) << what;
  EXPECT_EQ(grads.dinitial.C.defined(), c.initial) << what;
}

const std::vector<Case>& shapes() {
  static const std::vector<Case> cases = {
      {1, 3, 200, 64, 64, 64, true, true},      // odd heads, S not a multiple of the chunk
      {2, 1, 1, 64, 64, 64, false, false},      // S = 1
      {1, 2, 300, 384, 384, 64, true, false},   // the 125M-like head dims
      {1, 2, 333, 256, 512, 128, false, true},  // the 7B head dims, chunk 128
      {2, 3, 130, 128, 320, 64, true, true},    // unequal head dims
      {1, 1, 256, 64, 128, 128, true, true},    // whole chunks of 128
  };
  return cases;
}

TEST(ChunkwiseBackwardCuda, GradientsMatchFloat64AutogradBFloat16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : shapes()) expect_gradients_match_autograd(c, torch::kBFloat16);
}

TEST(ChunkwiseBackwardCuda, GradientsMatchFloat64AutogradFloat16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : shapes()) expect_gradients_match_autograd(c, torch::kFloat16);
}

// Tensors saved at chunk 64 (the forward kernel's), the backward at 128: S short of, at and past
// multiples of either, with and without a memory before and after.
const std::vector<Case>& saved_at_64_shapes() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> out;
    for (const int64_t seq : {1, 63, 65, 127, 129, 200, 2048})
      for (const bool memory : {false, true})
        out.push_back({1, 2, seq, 64, 64, 64, memory, memory, 128});
    out.push_back({1, 2, 300, 384, 384, 64, true, false, 128});  // the 125M-like head dims
    out.push_back({1, 2, 333, 256, 512, 64, false, true, 128});  // the 7B head dims
    return out;
  }();
  return cases;
}

TEST(ChunkwiseBackwardCuda, Chunk128OnTensorsSavedAt64MatchesFloat64AutogradBFloat16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : saved_at_64_shapes()) expect_gradients_match_autograd(c, torch::kBFloat16);
}

TEST(ChunkwiseBackwardCuda, Chunk128OnTensorsSavedAt64MatchesFloat64AutogradFloat16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const Case& c : saved_at_64_shapes()) expect_gradients_match_autograd(c, torch::kFloat16);
}

TEST(ChunkwiseBackwardCuda, Chunk128OnTensorsSavedAt64EqualsChunk64) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  for (const int64_t seq : {200, 2048}) {
    const Case c{1, 2, seq, 128, 256, 64, true, true, 128};
    const Inputs in = make_inputs(c, torch::kBFloat16, 1.0);
    const auto [saved, h] = forward_of(in, 64);
    const auto at_64 = run_kernels(in, torch::kBFloat16, h, saved, 64);
    const auto at_128 = run_kernels(in, torch::kBFloat16, h, saved, 128);
    const std::string what = describe(c, torch::kBFloat16);
    const std::vector<std::pair<const char*, std::pair<Tensor, Tensor>>> pairs = {
        {"dq", {at_128.dq, at_64.dq}},
        {"dk", {at_128.dk, at_64.dk}},
        {"dv", {at_128.dv, at_64.dv}},
        {"digate", {at_128.digate, at_64.digate}},
        {"dfgate", {at_128.dfgate, at_64.dfgate}},
        {"dC_initial", {at_128.dinitial.C, at_64.dinitial.C}},
        {"dn_initial", {at_128.dinitial.n, at_64.dinitial.n}}};
    for (const auto& [name, got] : pairs)
      EXPECT_TRUE(test::close_at_precision(got.first, got.second, torch::kBFloat16,
                                           roundings(torch::kBFloat16)))
          << what << " " << name;
  }
}

TEST(ChunkwiseBackwardCuda, GradientsMatchFloat64AutogradFloat32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (Case c : shapes()) {
    c.chunk = 64;  // the float32 kernels' only chunk size
    c.backward_chunk = 0;
    // S = 1 without history: where the normaliser takes |den|, h_0 = sign(q_0 . k_0) v_0 up to
    // eps, and dq, dk, di are differences of O(1) terms that cancel to O(eps) (max |dq| ~1e-6);
    // float32 resolves them to ~1e-7 of those terms, above 1e-4 of the cancelled result. A memory
    // before the position makes them O(1).
    if (c.seq == 1) c.initial = true;
    expect_gradients_match_autograd(c, torch::kFloat32);
  }
  expect_gradients_match_autograd({1, 1, 129, 448, 192, 64, false, true}, torch::kFloat32);
  expect_gradients_match_autograd({2, 1, 1, 512, 512, 64, true, true}, torch::kFloat32);
}

TEST(ChunkwiseBackwardCuda, ExtremeGatesOverLongSequencesStayFinite) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(3);
  struct Run {
    int64_t saved_L, backward_L;
    torch::ScalarType dtype;
  };
  for (const Run& run : {Run{64, 64, torch::kBFloat16}, Run{128, 128, torch::kBFloat16},
                         Run{64, 128, torch::kBFloat16}, Run{64, 64, torch::kFloat32}}) {
    const Case c{1, 2, 8192, 64, 64, run.saved_L, true, true, run.backward_L};
    const Inputs in = make_inputs(c, run.dtype, 20.0);
    const auto [saved, h] = forward_of(in, run.saved_L);
    const auto grads = run_kernels(in, run.dtype, h, saved, run.backward_L);
    const std::string what = describe(c, run.dtype);
    for (const Tensor& g : {grads.dq, grads.dk, grads.dv, grads.digate, grads.dfgate,
                            grads.dinitial.C, grads.dinitial.n})
      EXPECT_TRUE(torch::isfinite(g).all().item<bool>()) << what;
  }
}

TEST(ChunkwiseBackwardCuda, RejectsShapesTheKernelsDoNotTake) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // DHqk not a multiple of 64; a backward chunk that is no multiple of the saved one
  for (const Case& c :
       {Case{1, 1, 10, 96, 64, 64, false, false}, Case{1, 1, 10, 64, 64, 128, false, false, 64}}) {
    const Inputs in = make_inputs(c, torch::kBFloat16, 1.0);
    const auto [saved, h] = forward_of(in, c.chunk);
    EXPECT_THROW(run_kernels(in, torch::kBFloat16, h, saved, c.backward_at()), c10::Error)
        << describe(c, torch::kBFloat16);
  }
  const Case c128{1, 1, 10, 64, 64, 128, false, false};  // float32 takes chunk size 64 only
  const Inputs in128 = make_inputs(c128, torch::kFloat32, 1.0);
  const auto [saved128, h128] = forward_of(in128, c128.chunk);
  EXPECT_THROW(run_kernels(in128, torch::kFloat32, h128, saved128, c128.backward_at()), c10::Error);
}

}  // namespace
}  // namespace xlstm::ops::mlstm

#else

TEST(ChunkwiseBackwardCuda, NeedsACudaBuild) {
  GTEST_SKIP() << "built without CUDA (XLSTM_WITH_CUDA undefined): the kernels are absent";
}

#endif
