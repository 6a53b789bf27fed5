// The chunkwise mLSTM forward kernels (kernels/mlstm/chunkwise_forward.cu through
// detail::chunkwise_kernel_forward; skipped without a GPU) against float64 references on the GPU:
// h and the last memory against ops::mlstm::chunkwise_stabilized (and parallel_stabilized without
// history), every saved tensor against the launch API's math written out here
// (contract_reference). Tolerances (support/tolerance.h, times max |reference|): h, C_last and
// chunk_C 4 roundings of the element type (bf16 inputs measured within 2 on the H200, fp16
// within 2: the products round q, k, v, P and C_c once each); the float32 statistics (n, m,
// row_m, row_den) 1 rounding of the element type (measured 1e-4 of it: they round only inside
// exp(u_s - M_t) with |u| up to 3000 under extreme gates). float32 (the SIMT kernels, float32
// arithmetic throughout): 1e-4 of max |reference| for every tensor (issue 12; measured <= 7e-6 on
// the H200); under extreme gates 1e-2 (measured 2.2e-3 for h at S = 8192: u_s = i_s - b_s reaches
// 3000, whose float32 rounding, 1e-4 absolute, moves exp(u_s - M_t) by that much relatively).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#ifdef XLSTM_WITH_CUDA
#include "ops/mlstm/chunkwise_cuda.h"
#include "support/environment.h"
#include "support/tolerance.h"
#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm {
namespace {

using detail::ChunkwiseKernelForward;
using detail::ChunkwiseKernelSaved;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-6;
constexpr int64_t kChunk = 64;

struct Inputs {
  torch::Tensor q, k, v, igate, fgate;
};

/// q, k, v [B, NH, S, DH] in `dtype`, gate pre-activations [B, NH, S, 1] float32: ordinary ones, or
/// extreme (i uniform in [-50, 50], f in [-50, 10]).
Inputs make_inputs(int64_t B, int64_t NH, int64_t S, int64_t DQ, int64_t DV,
                   torch::ScalarType dtype, bool extreme = false) {
  const auto options = torch::TensorOptions().device(torch::kCUDA);
  Inputs x{torch::randn({B, NH, S, DQ}, options).to(dtype),
           torch::randn({B, NH, S, DQ}, options).to(dtype),
           torch::randn({B, NH, S, DV}, options).to(dtype),
           {},
           {}};
  if (extreme) {
    x.igate = torch::rand({B, NH, S, 1}, options) * 100 - 50;
    x.fgate = torch::rand({B, NH, S, 1}, options) * 60 - 50;
  } else {
    x.igate = torch::randn({B, NH, S, 1}, options);
    x.fgate = torch::randn({B, NH, S, 1}, options) + 3;
  }
  return x;
}

CellState random_state(int64_t B, int64_t NH, int64_t DQ, int64_t DV) {
  const auto options = torch::TensorOptions().device(torch::kCUDA);
  return {torch::randn({B, NH, DQ, DV}, options) * 0.3, torch::randn({B, NH, DQ, 1}, options) * 0.3,
          torch::randn({B, NH, 1, 1}, options)};
}

torch::Tensor f64(const torch::Tensor& t) {
  return t.to(torch::kDouble);
}

CellState f64(const CellState& s) {
  return s.defined() ? CellState{f64(s.C), f64(s.n), f64(s.m)} : CellState{};
}

struct Reference {
  torch::Tensor h;
  CellState last;
  ChunkwiseKernelSaved saved;
};

/// The math of kernels/mlstm/chunkwise_kernels.h in float64, chunk by chunk, keeping what the
/// forward saves (positions past S padded as the kernels count them: q = k = v = 0, i = -inf,
/// log f = 0).
Reference contract_reference(const Inputs& x, const CellState& initial) {
  const int64_t B = x.q.size(0), NH = x.q.size(1), S = x.q.size(2), DQ = x.q.size(3),
                DV = x.v.size(3), NC = (S + kChunk - 1) / kChunk, pad = NC * kChunk - S;
  const auto options = x.q.options().dtype(torch::kDouble);
  torch::Tensor q = f64(x.q), k = f64(x.k) / std::sqrt(static_cast<double>(DQ)), v = f64(x.v);
  torch::Tensor lf = torch::log_sigmoid(f64(x.fgate).squeeze(-1)), i = f64(x.igate).squeeze(-1);
  if (pad > 0) {
    q = torch::cat({q, torch::zeros({B, NH, pad, DQ}, options)}, 2);
    k = torch::cat({k, torch::zeros({B, NH, pad, DQ}, options)}, 2);
    v = torch::cat({v, torch::zeros({B, NH, pad, DV}, options)}, 2);
    lf = torch::cat({lf, torch::zeros({B, NH, pad}, options)}, 2);
    i = torch::cat({i, torch::full({B, NH, pad}, -kInf, options)}, 2);
  }
  torch::Tensor C = torch::zeros({B, NH, DQ, DV}, options), n = torch::zeros({B, NH, DQ}, options),
                m = torch::full({B, NH}, -kInf, options);
  if (initial.defined()) {
    C = f64(initial.C);
    n = f64(initial.n).squeeze(-1);
    m = f64(initial.m).view({B, NH});
  }
  const torch::Tensor causal = torch::ones({kChunk, kChunk}, options.dtype(torch::kBool)).tril();
  std::vector<torch::Tensor> h, chunk_C, chunk_n, chunk_m, row_m, row_den;
  for (int64_t c = 0; c < NC; ++c) {
    const auto part = [&](const torch::Tensor& t) { return t.narrow(2, c * kChunk, kChunk); };
    const torch::Tensor qc = part(q), kc = part(k), vc = part(v), ic = part(i);
    const torch::Tensor b = part(lf).cumsum(-1), g = b.select(-1, kChunk - 1);
    const torch::Tensor log_d = (b.unsqueeze(-1) - b.unsqueeze(-2) + ic.unsqueeze(-2))
                                    .masked_fill(causal.logical_not(), -kInf);
    const torch::Tensor m_t = torch::maximum(log_d.amax(-1), b + m.unsqueeze(-1));
    const torch::Tensor p =
        torch::matmul(qc, kc.transpose(-1, -2)) * (log_d - m_t.unsqueeze(-1)).exp();
    const torch::Tensor inter = (b + m.unsqueeze(-1) - m_t).exp();
    const torch::Tensor num = torch::matmul(p, vc) + inter.unsqueeze(-1) * torch::matmul(qc, C);
    const torch::Tensor den = p.sum(-1) + inter * torch::matmul(qc, n.unsqueeze(-1)).squeeze(-1);
    h.push_back(num / (torch::maximum(den.abs(), (-m_t).exp()) + kEps).unsqueeze(-1));
    chunk_C.push_back(C);
    chunk_n.push_back(n);
    chunk_m.push_back(m);
    row_m.push_back(m_t);
    row_den.push_back(den);
    const torch::Tensor a = g.unsqueeze(-1) - b + ic;
    const torch::Tensor m_next = torch::maximum(g + m, a.amax(-1));
    const torch::Tensor weighted_k = kc * (a - m_next.unsqueeze(-1)).exp().unsqueeze(-1);
    const torch::Tensor keep = (g + m - m_next).exp();
    C = keep.view({B, NH, 1, 1}) * C + torch::matmul(weighted_k.transpose(-1, -2), vc);
    n = keep.unsqueeze(-1) * n + weighted_k.sum(-2);
    m = m_next;
  }
  Reference r;
  r.h = torch::cat(h, 2).narrow(2, 0, S);
  r.last = {C, n.unsqueeze(-1), m.view({B, NH, 1, 1})};
  r.saved.chunk_C = torch::stack(chunk_C, 2);
  r.saved.chunk_n = torch::stack(chunk_n, 2);
  r.saved.chunk_m = torch::stack(chunk_m, 2);
  r.saved.row_m = torch::cat(row_m, 2).narrow(2, 0, S);
  r.saved.row_den = torch::cat(row_den, 2).narrow(2, 0, S);
  return r;
}

/// The roundings of close_at_precision for `dtype`: `of_element_type` for bfloat16 / float16;
/// for float32 1e-4 relative, 1e-2 under extreme gates.
double roundings(torch::ScalarType dtype, double of_element_type, bool extreme) {
  if (dtype != torch::kFloat32) return of_element_type;
  return (extreme ? 1e-2 : 1e-4) / test::epsilon(torch::kFloat32);
}

/// close_at_precision over the finite entries, which must be where the reference's are.
::testing::AssertionResult close_where_finite(const torch::Tensor& actual,
                                              const torch::Tensor& reference,
                                              torch::ScalarType dtype, double roundings) {
  const torch::Tensor finite = torch::isfinite(reference);
  if (!torch::equal(torch::isfinite(actual), finite))
    return ::testing::AssertionFailure() << "non-finite entries differ from the reference's";
  if (!finite.any().item<bool>()) return ::testing::AssertionSuccess();  // e.g. S = 1: m_0 = -inf
  return test::close_at_precision(actual.masked_select(finite), reference.masked_select(finite),
                                  dtype, roundings);
}

ChunkwiseKernelForward kernel_forward(const Inputs& x, const CellState& initial = {}) {
  return detail::chunkwise_kernel_forward(x.q, x.k, x.v, x.igate, x.fgate, initial, 0, kEps,
                                          /*return_last=*/true, /*save=*/true);
}

/// The kernels' h, last memory and saved tensors against the float64 references.
void expect_forward_matches(int64_t B, int64_t NH, int64_t S, int64_t DQ, int64_t DV,
                            torch::ScalarType dtype, bool with_initial, bool extreme = false) {
  torch::manual_seed(11);
  const Inputs x = make_inputs(B, NH, S, DQ, DV, dtype, extreme);
  const CellState initial = with_initial ? random_state(B, NH, DQ, DV) : CellState{};
  const ChunkwiseKernelForward out = kernel_forward(x, initial);
  const Reference ref = contract_reference(x, initial);
  const std::string what = "B" + std::to_string(B) + " NH" + std::to_string(NH) + " S" +
                           std::to_string(S) + " DH " + std::to_string(DQ) + "/" +
                           std::to_string(DV) + " " + c10::toString(dtype) +
                           (with_initial ? " from a state" : "") + (extreme ? " extreme" : "");
  EXPECT_EQ(out.h.scalar_type(), dtype) << what;
  EXPECT_TRUE(torch::isfinite(out.h).all().item<bool>()) << what;
  EXPECT_TRUE(test::close_at_precision(out.h, ref.h, dtype, roundings(dtype, 4, extreme)))
      << what << ": h";
  // The library's own float64 forms agree with the contract's math.
  auto [h_chunkwise, last_chunkwise] = chunkwise_stabilized(
      f64(x.q), f64(x.k), f64(x.v), f64(x.igate), f64(x.fgate), f64(initial), kChunk, kEps);
  EXPECT_TRUE(test::close_at_precision(out.h, h_chunkwise, dtype, roundings(dtype, 4, extreme)))
      << what << ": h (ATen)";
  if (!with_initial && S <= 512) {
    const torch::Tensor h_parallel =
        parallel_stabilized(f64(x.q), f64(x.k), f64(x.v), f64(x.igate), f64(x.fgate));
    EXPECT_TRUE(test::close_at_precision(out.h, h_parallel, dtype, roundings(dtype, 4, extreme)))
        << what << ": h (parallel)";
  }
  EXPECT_TRUE(
      test::close_at_precision(out.last.C, last_chunkwise.C, dtype, roundings(dtype, 4, extreme)))
      << what << ": C";
  EXPECT_TRUE(
      test::close_at_precision(out.last.n, last_chunkwise.n, dtype, roundings(dtype, 1, extreme)))
      << what << ": n";
  EXPECT_TRUE(
      test::close_at_precision(out.last.m, last_chunkwise.m, dtype, roundings(dtype, 1, extreme)))
      << what << ": m";
  const ChunkwiseKernelSaved& saved = out.saved;
  EXPECT_EQ(saved.chunk_size, kChunk) << what;
  EXPECT_EQ(saved.chunk_C.scalar_type(), dtype) << what;
  EXPECT_TRUE(test::close_at_precision(saved.chunk_C, ref.saved.chunk_C, dtype,
                                       roundings(dtype, 4, extreme)))
      << what << ": chunk_C";
  EXPECT_TRUE(test::close_at_precision(saved.chunk_n, ref.saved.chunk_n, dtype,
                                       roundings(dtype, 1, extreme)))
      << what << ": chunk_n";
  EXPECT_TRUE(
      close_where_finite(saved.chunk_m, ref.saved.chunk_m, dtype, roundings(dtype, 1, extreme)))
      << what << ": chunk_m";
  EXPECT_TRUE(
      test::close_at_precision(saved.row_m, ref.saved.row_m, dtype, roundings(dtype, 1, extreme)))
      << what << ": row_m";
  EXPECT_TRUE(test::close_at_precision(saved.row_den, ref.saved.row_den, dtype,
                                       roundings(dtype, 1, extreme)))
      << what << ": row_den";
}

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

TEST(MlstmChunkwiseCuda, ForwardMatchesReferencesOverShapes) {
  SKIP_WITHOUT_CUDA();
  for (const auto dtype : {torch::kBFloat16, torch::kHalf}) {
    expect_forward_matches(2, 3, 200, 64, 64, dtype, false);   // S not a multiple of the chunk
    expect_forward_matches(1, 1, 1, 64, 64, dtype, false);     // S = 1
    expect_forward_matches(1, 3, 130, 128, 320, dtype, true);  // odd heads, from a state
    expect_forward_matches(1, 8, 2048, 256, 512, dtype, dtype == torch::kHalf);  // the 7B shape
    expect_forward_matches(1, 1, 100, 512, 64, dtype, false);
  }
  expect_forward_matches(8, 4, 2048, 384, 384, torch::kBFloat16, false);  // the 125M shape
}

TEST(MlstmChunkwiseCuda, Float32MatchesReferencesOverShapes) {
  SKIP_WITHOUT_CUDA();
  const auto f32 = torch::kFloat32;
  expect_forward_matches(2, 3, 200, 64, 64, f32, false);   // S not a multiple of the chunk
  expect_forward_matches(2, 1, 1, 64, 64, f32, false);     // S = 1
  expect_forward_matches(1, 1, 1, 512, 512, f32, true);    // S = 1, from a state
  expect_forward_matches(1, 3, 130, 128, 320, f32, true);  // odd heads, DHqk != DHv
  expect_forward_matches(1, 2, 150, 192, 448, f32, false);
  expect_forward_matches(1, 1, 129, 448, 192, f32, true);
  expect_forward_matches(1, 8, 2048, 256, 512, f32, false);  // the 7B shape
  expect_forward_matches(2, 4, 256, 384, 384, f32, true);    // the 125M head dims
  expect_forward_matches(1, 1, 100, 512, 64, f32, false);
  expect_forward_matches(1, 1, 70, 320, 64, f32, true);
  expect_forward_matches(1, 2, 8192, 128, 128, f32, false, /*extreme=*/true);
  expect_forward_matches(1, 3, 333, 64, 448, f32, true, /*extreme=*/true);
}

TEST(MlstmChunkwiseCuda, LongSequenceWithExtremeGatesStaysFinite) {
  SKIP_WITHOUT_CUDA();
  for (const auto dtype : {torch::kBFloat16, torch::kHalf}) {
    expect_forward_matches(1, 2, 8192, 128, 128, dtype, false, /*extreme=*/true);
    expect_forward_matches(1, 3, 333, 64, 448, dtype, true, /*extreme=*/true);
  }
}

TEST(MlstmChunkwiseCuda, CarriedStateContinuesTheSequence) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(5);
  const int64_t split = 100;  // inside a chunk: the second call's chunks start elsewhere
  const Inputs x = make_inputs(2, 3, 300, 128, 192, torch::kBFloat16);
  const auto part = [&](int64_t from, int64_t len) {
    return Inputs{x.q.narrow(2, from, len), x.k.narrow(2, from, len), x.v.narrow(2, from, len),
                  x.igate.narrow(2, from, len), x.fgate.narrow(2, from, len)};
  };
  const ChunkwiseKernelForward whole = kernel_forward(x);
  const ChunkwiseKernelForward first = kernel_forward(part(0, split));
  const ChunkwiseKernelForward second = kernel_forward(part(split, 300 - split), first.last);
  const Reference ref = contract_reference(x, {});
  const torch::Tensor h_split = torch::cat({first.h, second.h}, 2);
  EXPECT_TRUE(test::close_at_precision(h_split, ref.h, torch::kBFloat16, 4));
  EXPECT_TRUE(test::close_at_precision(h_split, whole.h, torch::kBFloat16, 4));
  EXPECT_TRUE(test::close_at_precision(second.last.C, whole.last.C, torch::kBFloat16, 4));
  EXPECT_TRUE(test::close_at_precision(second.last.n, whole.last.n, torch::kBFloat16, 1));
  EXPECT_TRUE(test::close_at_precision(second.last.m, whole.last.m, torch::kBFloat16, 1));
}

TEST(MlstmChunkwiseCuda, AppliesOnlyWhereTheKernelsDo) {
  SKIP_WITHOUT_CUDA();
  const auto cuda = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const auto qkv = [&](int64_t S, int64_t D, torch::TensorOptions o) {
    return torch::randn({1, 2, S, D}, o);
  };
  const torch::Tensor q = qkv(70, 128, cuda), v = qkv(70, 192, cuda);
  EXPECT_TRUE(detail::chunkwise_kernel_applies(q, q, v, false));
  EXPECT_TRUE(detail::chunkwise_kernel_applies(q.to(torch::kFloat32), q.to(torch::kFloat32),
                                               v.to(torch::kFloat32), true));
  EXPECT_FALSE(detail::chunkwise_kernel_applies(q.to(torch::kDouble), q.to(torch::kDouble),
                                                v.to(torch::kDouble), false));
  EXPECT_FALSE(detail::chunkwise_kernel_applies(q.cpu(), q.cpu(), v.cpu(), false));
  EXPECT_FALSE(detail::chunkwise_kernel_applies(qkv(70, 96, cuda), qkv(70, 96, cuda), v, false));
  EXPECT_FALSE(detail::chunkwise_kernel_applies(qkv(70, 576, cuda), qkv(70, 576, cuda), v, false));
  EXPECT_FALSE(detail::chunkwise_kernel_applies(q, q.to(torch::kHalf), v, false));
  EXPECT_FALSE(test::with_environment("XLSTM_MLSTM_CHUNKWISE_KERNEL", "0", [&] {
    return detail::chunkwise_kernel_applies(q, q, v, false);
  }));
  const torch::Tensor gate = torch::zeros({1, 2, 70, 1}, cuda);
  EXPECT_THROW(detail::chunkwise_kernel_forward(qkv(70, 96, cuda), qkv(70, 96, cuda), v, gate, gate,
                                                {}, 0, kEps, false, false),
               c10::Error);
}

}  // namespace
}  // namespace xlstm::ops::mlstm
#else
#include <gtest/gtest.h>

TEST(MlstmChunkwiseCuda, NeedsACudaBuild) {
  GTEST_SKIP() << "built without CUDA: the chunkwise kernels are not linked";
}
#endif
