// The norm kernels (kernels/norms, on CUDA tensors; skipped without a GPU) against the ATen path
// of ops/norms.h (XLSTM_NORM_KERNELS=0): rows of the 7B width and odd sizes (packed and element-
// wise loads, a misaligned input), float32 and bfloat16, and a small float32 xLSTM-Large model.
//
// Tolerances: float32 1e-5 relative (the kernels' statistics are summed in another order). In
// bfloat16 the last bits of the float32 statistics can move a rounding of the normalised value by
// one unit, which the later roundings (* weight, + bias, * sigmoid(o)) carry: up to 4 units of the
// largest value. The pointwise kernels round as ATen does; 2 units allow for one rounding moved by
// a last-bit difference of expf / tanhf or of the division by the cap, carried by the next one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "support/environment.h"
#include "support/kernel_compare.h"
#include "xlstm/ops/norms.h"
#include "xlstm/xlstm_large/model.h"

namespace xlstm::ops {
namespace {

/// Runs `fn` with the norm kernels switched off by the environment.
template <class Fn>
torch::Tensor with_aten_norms(Fn fn) {
  return test::with_environment("XLSTM_NORM_KERNELS", "0", fn);
}

/// Expects the kernels' result of `fn` to equal the ATen path's (tolerances above).
template <class Fn>
void expect_kernel_equals_aten(Fn fn, torch::ScalarType dtype, double bf16_roundings,
                               const std::string& what) {
  const torch::Tensor reference = with_aten_norms(fn);
  const torch::Tensor result = fn();
  test::expect_kernel_close(result, reference, dtype, bf16_roundings, what);
}

torch::Tensor random(c10::IntArrayRef sizes, torch::ScalarType dtype, double scale = 1,
                     double shift = 0) {
  return (torch::randn(sizes, torch::kCUDA) * scale + shift).to(dtype);
}

std::string name(const char* op, torch::ScalarType dtype, int64_t rows, int64_t size) {
  return std::string(op) + " " + c10::toString(dtype) + " rows " + std::to_string(rows) + " size " +
         std::to_string(size);
}

const torch::ScalarType kDtypes[] = {torch::kFloat32, torch::kBFloat16};
const int64_t kRows[] = {1, 3, 17};

TEST(NormsCuda, RmsNormKernelEqualsAten) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  for (const auto dtype : kDtypes)
    for (const int64_t D : {4096, 96, 7})
      for (const int64_t N : kRows) {
        const auto x = random({N, D}, dtype, 3, 0.5);
        const auto w = random({D}, dtype, 0.5, 1), b = random({D}, dtype);
        const auto what = name("rms_norm", dtype, N, D);
        expect_kernel_equals_aten([&] { return rms_norm(x, w, {}, 1e-6, true); }, dtype, 4, what);
        expect_kernel_equals_aten([&] { return rms_norm(x, w, b, 1e-6, true); }, dtype, 4, what);
        expect_kernel_equals_aten([&] { return rms_norm(x, {}, {}, 1e-6, true); }, dtype, 4, what);
      }
  // [B, S, D] inputs, and a contiguous input whose data is not 16-byte aligned.
  const auto x3 = random({2, 5, 64}, torch::kBFloat16), w3 = random({64}, torch::kBFloat16);
  expect_kernel_equals_aten([&] { return rms_norm(x3, w3, {}, 1e-6, true); }, torch::kBFloat16, 4,
                            "rms_norm [2, 5, 64]");
  const auto shifted = random({3 * 96 + 1}, torch::kBFloat16).narrow(0, 1, 3 * 96).view({3, 96});
  expect_kernel_equals_aten([&] { return rms_norm(shifted, {}, {}, 1e-6, true); }, torch::kBFloat16,
                            4, "rms_norm misaligned");
}

TEST(NormsCuda, MultiheadNormGateKernelEqualsAten) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  struct Heads {
    int64_t NH, DH;
  };
  for (const auto dtype : kDtypes)
    for (const Heads heads : {Heads{8, 512}, Heads{3, 96}, Heads{2, 7}})
      for (const int64_t N : kRows) {
        const int64_t NH = heads.NH, DH = heads.DH, F = NH * DH;
        // N positions as [B, S] = [N, 1] (a step, the cell output head-major and transposed) and
        // [1, N] (a sequence, contiguous).
        const auto h_step = random({N, NH, 1, DH}, dtype, 2, 0.3).transpose(1, 2);
        const auto h_seq = random({1, N, NH, DH}, dtype, 2, 0.3);
        const auto w = random({F}, dtype, 0.5, 1), b = random({F}, dtype);
        for (const auto& h : {h_step, h_seq}) {
          // o contiguous, and as a slice of a wider projection output (read in place; at an
          // offset of 8 elements in packs, of 3 elementwise).
          const auto wide = random({h.size(0), h.size(1), 2 * F + 8}, dtype, 3);
          for (const int64_t offset : {-1, 8, 3}) {
            const auto o = offset < 0 ? random({h.size(0), h.size(1), F}, dtype, 3)
                                      : wide.narrow(2, offset, F);
            const auto what = name("multihead_norm_gate", dtype, N * NH, DH) + " o offset " +
                              std::to_string(offset);
            expect_kernel_equals_aten([&] { return multihead_norm_gate(h, o, w, {}, 1e-6, true); },
                                      dtype, 4, what);
            expect_kernel_equals_aten([&] { return multihead_norm_gate(h, o, w, b, 1e-6, true); },
                                      dtype, 4, what);
          }
          const auto what = name("multihead_norm", dtype, N * NH, DH);
          expect_kernel_equals_aten([&] { return multihead_norm(h, w, b, 1e-6, true); }, dtype, 4,
                                    what);
        }
      }
}

TEST(NormsCuda, GatedSiluAndSoftCapKernelsEqualAten) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::manual_seed(2);
  for (const auto dtype : kDtypes)
    for (const int64_t F : {10944, 4096, 96, 7, 4})
      for (const int64_t N : kRows) {
        const auto gate_z = random({N, 1, 2 * F}, dtype, 3);
        const auto gate = random({N, F}, dtype, 3), z = random({N, F}, dtype);
        const auto what = name("gated_silu", dtype, N, F);
        expect_kernel_equals_aten([&] { return gated_silu(gate_z); }, dtype, 2, what);
        expect_kernel_equals_aten([&] { return gated_silu(gate, z); }, dtype, 2, what);
        expect_kernel_equals_aten([&] { return soft_cap(gate * 10, 15.0); }, dtype, 2,
                                  name("soft_cap", dtype, N, F));
      }
}

TEST(NormsCuda, GradientsKeepTheAtenPath) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto x = torch::randn({3, 96}, torch::kCUDA).requires_grad_();
  const auto w = torch::ones({96}, torch::kCUDA);
  rms_norm(x, w, {}, 1e-6, true).pow(2).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_TRUE(gated_silu(torch::cat({x, x}, -1)).requires_grad());
}

TEST(NormsCuda, LargeModelWithKernelsEqualsAten) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  large::xLSTMLargeConfig config;
  config.embedding_dim = 64;
  config.num_heads = 2;
  config.num_blocks = 2;
  config.vocab_size = 50;
  config.chunk_size = 4;
  config.mode = "inference";
  config.return_last_states = true;
  config.weight_mode = "fused";
  large::xLSTMLarge model(config, torch::TensorOptions().device(torch::kCUDA));
  for (auto& p : model->parameters())
    p.normal_(0.0, p.dim() == 2 ? 1.0 / std::sqrt(p.size(1)) : 1.0);
  const auto ids = torch::randint(config.vocab_size, {2, 6}, torch::kLong).to(torch::kCUDA);
  expect_kernel_equals_aten([&] { return model->forward(ids); }, torch::kFloat32, 0,
                            "xLSTMLarge forward");
  const auto state = model->zero_state(2);
  const auto step_ids = ids.narrow(1, 0, 1);
  expect_kernel_equals_aten([&] { return model->step(step_ids, state).first; }, torch::kFloat32, 0,
                            "xLSTMLarge step");
}

}  // namespace
}  // namespace xlstm::ops
