// The decode kernels (kernels/gemv and the soft-capping mLSTM step, on CUDA tensors; skipped
// without a GPU) against the ATen path of ops/decode.h (XLSTM_DECODE_KERNELS=0): the input sizes
// of the 7B model and odd ones (tensor-core and FMA kernels, a size not a multiple of the tile's
// rows), 1 to 16 rows of x, float32, bfloat16 and float16, every epilogue.
//
// Tolerances: float32 1e-5 relative (the products are summed in another order). In 16 bits a
// last-bit difference of the float32 sum can move the rounding of the product by one unit (cuBLAS
// may also reduce split sums in 16 bits), which the later roundings carry: the residual sum
// (one more), soft-capping and the gated SiLU (two more).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "support/environment.h"
#include "support/kernel_compare.h"
#include "xlstm/generation/step_graph.h"
#include "xlstm/ops/decode.h"
#include "xlstm/ops/norms.h"

namespace xlstm::ops {
namespace {

/// `fn` with the decode kernels switched off by the environment.
template <class Fn>
auto with_aten_decode(Fn fn) {
  return test::with_environment("XLSTM_DECODE_KERNELS", "0", fn);
}

/// Expects the kernels' result of `fn` to equal the ATen path's.
template <class Fn>
void expect_decode_equals_aten(Fn fn, torch::ScalarType dtype, double roundings,
                               const std::string& what) {
  const torch::Tensor reference = with_aten_decode(fn);
  test::expect_kernel_close(fn(), reference, dtype, roundings, what);
}

torch::Tensor decode_random(c10::IntArrayRef sizes, torch::ScalarType dtype, double scale = 1) {
  return (torch::randn(sizes, torch::kCUDA) * scale).to(dtype);
}

/// A map [N, K] with entries of size 1 / sqrt(K) (products of size 1), with or without a bias.
LinearWeights decode_map(int64_t N, int64_t K, torch::ScalarType dtype, bool bias) {
  return {decode_random({N, K}, dtype, 1.0 / std::sqrt(static_cast<double>(K))),
          bias ? decode_random({N}, dtype) : torch::Tensor()};
}

std::string decode_case(const char* op, torch::ScalarType dtype, int64_t M, int64_t N, int64_t K) {
  return std::string(op) + " " + c10::toString(dtype) + " M " + std::to_string(M) + " N " +
         std::to_string(N) + " K " + std::to_string(K);
}

const torch::ScalarType kDecodeDtypes[] = {torch::kFloat32, torch::kBFloat16, torch::kHalf};

#define SKIP_DECODE_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

TEST(DecodeCuda, LinearKernelsEqualAten) {
  SKIP_DECODE_WITHOUT_CUDA();
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  // 4096 and 10944: the 7B inputs; 72: a last step of 16-byte loads with idle lanes (a warp whose
  // lanes must still run every mma together); 100 and 7:
  // not a multiple of 8 (the FMA kernel).
  for (const auto dtype : kDecodeDtypes)
    for (const int64_t K : {4096, 10944, 72, 100, 7})
      for (const int64_t N : {1, 37, 300})
        for (const int64_t M : {1, 3, 8, 16}) {
          const auto x = decode_random({M, 1, K}, dtype);
          const auto map = decode_map(N, K, dtype, /*bias=*/N != 37);
          const auto up = decode_map(N, K, dtype, /*bias=*/N == 300);
          const auto residual = decode_random({M, 1, N}, dtype, 4);
          expect_decode_equals_aten([&] { return linear_concat(x, {map}); }, dtype, 2,
                                    decode_case("linear", dtype, M, N, K));
          expect_decode_equals_aten([&] { return linear_add(x, map, residual); }, dtype, 3,
                                    decode_case("linear_add", dtype, M, N, K));
          expect_decode_equals_aten([&] { return linear_gated_silu(x, map, up); }, dtype, 4,
                                    decode_case("linear_gated_silu", dtype, M, N, K));
          expect_decode_equals_aten([&] { return linear_soft_cap(x, map, 0.5); }, dtype, 4,
                                    decode_case("linear_soft_cap", dtype, M, N, K));
        }
}

TEST(DecodeCuda, ConcatenatedMapsEqualTheirConcatenation) {
  SKIP_DECODE_WITHOUT_CUDA();
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  for (const auto dtype : kDecodeDtypes)
    for (const int64_t M : {1, 8, 16}) {
      // The single-mode projections of a small layer: q, k, v, o, i, f (biases on the gates).
      const int64_t K = 256;
      const auto x = decode_random({M, 1, K}, dtype);
      const std::vector<LinearWeights> maps = {
          decode_map(64, K, dtype, false),  decode_map(64, K, dtype, false),
          decode_map(128, K, dtype, false), decode_map(128, K, dtype, false),
          decode_map(4, K, dtype, true),    decode_map(4, K, dtype, true)};
      ASSERT_TRUE(decode_kernels_take(x, maps));
      const auto result = linear_concat(x, maps);
      EXPECT_EQ(result.sizes(), c10::IntArrayRef({M, 1, 392}));
      expect_decode_equals_aten([&] { return linear_concat(x, maps); }, dtype, 2,
                                decode_case("linear_concat", dtype, M, 392, K));
    }
}

TEST(DecodeCuda, OtherCallsKeepTheAtenPath) {
  SKIP_DECODE_WITHOUT_CUDA();
  torch::manual_seed(2);
  const auto map = decode_map(40, 64, torch::kFloat32, true);
  // More than 16 rows, a mismatched dtype, a non-contiguous weight, a gradient: ATen.
  EXPECT_FALSE(decode_kernels_take(decode_random({17, 64}, torch::kFloat32), {map}));
  EXPECT_FALSE(decode_kernels_take(decode_random({2, 64}, torch::kBFloat16), {map}));
  EXPECT_FALSE(decode_kernels_take(decode_random({2, 64}, torch::kFloat32),
                                   {{map.weight.t().contiguous().t(), map.bias}}));
  const auto x = decode_random({2, 64}, torch::kFloat32).requires_grad_();
  EXPECT_FALSE(decode_kernels_take(x, {map}));
  linear_soft_cap(x, map, 2.0).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(decode_kernels_take(x, {map}));
  with_aten_decode([&] {
    EXPECT_FALSE(decode_kernels_take(x, {map}));
    return 0;
  });
  // 17 rows are computed by ATen: the same numbers as the plain formula.
  const auto rows = decode_random({17, 64}, torch::kFloat32);
  EXPECT_TRUE(
      torch::allclose(linear_concat(rows, {map}), torch::linear(rows, map.weight, map.bias)));
}

TEST(DecodeCuda, SoftCappedStepReadsTheProjectionInPlace) {
  SKIP_DECODE_WITHOUT_CUDA();
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  for (const auto dtype : kDecodeDtypes)
    for (const int64_t B : {1, 3}) {
      const int64_t NH = 4, DHqk = 32, DHv = 64;
      // The fused projection output q | k | v | o | i | f of one position.
      const int64_t width = 2 * NH * DHqk + 2 * NH * DHv + 2 * NH;
      const auto proj = decode_random({B, 1, width}, dtype, 1) * 20;
      const auto parts =
          proj.split_with_sizes({NH * DHqk, NH * DHqk, NH * DHv, NH * DHv, NH, NH}, -1);
      const auto heads = [&](const torch::Tensor& t) {
        return t.view({B, 1, NH, -1}).transpose(1, 2);
      };
      const auto gate = [&](const torch::Tensor& t) { return t.transpose(1, 2).unsqueeze(-1); };
      const auto start =
          mlstm::CellState::zeros(B, NH, DHqk, DHv, torch::TensorOptions().device(torch::kCUDA));
      start.C.normal_();
      start.n.normal_();
      start.m.normal_();
      const auto run = [&](std::optional<double> cap) {
        return mlstm::recurrent_step_soft_capped(start, heads(parts[0]), heads(parts[1]),
                                                 heads(parts[2]), gate(parts[4]), gate(parts[5]),
                                                 cap, 1e-6);
      };
      for (const std::optional<double> cap :
           {std::optional<double>(15.0), std::optional<double>()}) {
        // The ATen reference: the soft-cap op, then the ATen step.
        setenv("XLSTM_MLSTM_STEP_KERNEL", "0", 1);
        const auto reference = with_aten_decode([&] { return run(cap); });
        unsetenv("XLSTM_MLSTM_STEP_KERNEL");
        const auto result = run(cap);
        const std::string what = std::string("step ") + c10::toString(dtype) + " B " +
                                 std::to_string(B) + (cap ? " capped" : "");
        test::expect_kernel_close(result.first, reference.first, dtype, 4, what + " h");
        EXPECT_LE(test::max_rel_diff(result.second.C, reference.second.C), 1e-5) << what;
        EXPECT_LE(test::max_rel_diff(result.second.n, reference.second.n), 1e-5) << what;
        EXPECT_LE(test::max_abs_diff(result.second.m, reference.second.m), 1e-5) << what;
      }
    }
}

// The decode and norm kernels may start before the kernel in front of them ends (programmatic
// dependent launch on sm_90, kernels/common/dependent_launch.cuh). A chain of them where each
// reads the one before (a feed-forward stack: RMSNorm, gated SiLU, residual sum, soft-cap) must
// give bitwise what it gives with the device synchronised after every kernel, run eagerly and
// replayed as a CUDA graph (the kernels sum in a fixed order).
TEST(DecodeCuda, OverlappingChainEqualsTheSynchronisedChain) {
  SKIP_DECODE_WITHOUT_CUDA();
  torch::NoGradGuard no_grad;
  torch::manual_seed(4);
  const auto dtype = torch::kBFloat16;
  const int64_t B = 2, D = 1024, F = 1536, layers = 40;
  struct Layer {
    torch::Tensor norm;
    LinearWeights gate, up, down;
  };
  std::vector<Layer> stack;
  for (int64_t l = 0; l < layers; ++l)
    stack.push_back({decode_random({D}, dtype, 0.2) + 1, decode_map(F, D, dtype, false),
                     decode_map(F, D, dtype, true), decode_map(D, F, dtype, false)});
  const auto head = decode_map(300, D, dtype, false);
  const auto x0 = decode_random({B, 1, D}, dtype);
  const auto run = [&](bool synchronise) {
    const auto after = [&](torch::Tensor t) {
      if (synchronise) torch::cuda::synchronize();
      return t;
    };
    torch::Tensor x = x0;
    for (const Layer& layer : stack) {
      const auto h = after(rms_norm(x, layer.norm, {}, 1e-6, true));
      const auto u = after(linear_gated_silu(h, layer.gate, layer.up));
      x = after(soft_cap(after(linear_add(u, layer.down, x)), 30.0));
    }
    return linear_soft_cap(x, head, 15.0);
  };
  const torch::Tensor synchronised = run(true);
  ASSERT_GT(synchronised.abs().max().item<float>(), 0.1f);
  EXPECT_TRUE(torch::equal(run(false), synchronised)) << "eager chain";
  std::string why_not;
  const auto graph =
      generation::capture_cuda_graph([&] { return run(false); }, torch::kCUDA, 1, &why_not);
  ASSERT_TRUE(graph) << why_not;
  for (int replay = 0; replay < 3; ++replay)
    EXPECT_TRUE(torch::equal(graph->replay(), synchronised)) << "graph replay " << replay;
}

}  // namespace
}  // namespace xlstm::ops
