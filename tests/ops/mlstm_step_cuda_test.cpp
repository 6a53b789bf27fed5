// The mLSTM step kernels (kernels/mlstm, on CUDA tensors; skipped without a GPU) against the ATen
// step (XLSTM_MLSTM_STEP_KERNEL=0): h and the new state, functional and in place, float32 and
// bfloat16 inputs, over several chained steps.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>

#include "support/environment.h"
#include "support/tensor_compare.h"
#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm {
namespace {

/// Runs `fn` with the step kernels switched off by the environment.
template <class Fn>
auto with_aten_step(Fn fn) {
  return test::with_environment("XLSTM_MLSTM_STEP_KERNEL", "0", fn);
}

CellState clone(const CellState& s) {
  return {s.C.clone(), s.n.clone(), s.m.clone()};
}

/// DV: the value head size (the xLSTM-7B has DHqk 256, DHv 512); 0: equal to DH.
void expect_kernels_equal_aten(int64_t B, int64_t NH, int64_t DH, torch::ScalarType dtype,
                               int64_t DV = 0) {
  torch::manual_seed(7);
  if (DV == 0) DV = DH;
  const auto options = torch::TensorOptions().device(torch::kCUDA);
  CellState state{torch::randn({B, NH, DH, DV}, options), torch::randn({B, NH, DH, 1}, options),
                  torch::randn({B, NH, 1, 1}, options)};
  CellState in_place = clone(state), reference = clone(state);
  for (int t = 0; t < 4; ++t) {
    const auto qkv = [&](int64_t size) {
      return torch::randn({B, NH, 1, size}, options).to(dtype);
    };
    const torch::Tensor q = qkv(DH), k = qkv(DH), v = qkv(DV);
    const torch::Tensor igate = torch::randn({B, NH, 1, 1}, options) * 3;
    const torch::Tensor fgate = torch::randn({B, NH, 1, 1}, options) * 3 + 2;
    auto [h_ref, next_ref] =
        with_aten_step([&] { return recurrent_step_stabilized(reference, q, k, v, igate, fgate); });
    auto [h, next] = recurrent_step_stabilized(state, q, k, v, igate, fgate);
    auto [h_in_place, same] =
        recurrent_step_stabilized(in_place, q, k, v, igate, fgate, 1e-6, &in_place);
    const std::string what =
        "step " + std::to_string(t) + " DH " + std::to_string(DH) + " DV " + std::to_string(DV);
    const double tolerance = dtype == torch::kFloat32 ? 1e-5 : 1e-2;  // h rounded to bf16
    EXPECT_LE(test::max_rel_diff(h, h_ref), tolerance) << what;
    EXPECT_EQ(h.scalar_type(), dtype) << what;
    EXPECT_LE(test::max_rel_diff(h_in_place, h), 0.0) << what;
    EXPECT_EQ(same.C.data_ptr(), in_place.C.data_ptr()) << what;
    EXPECT_LE(test::max_rel_diff(next.C, next_ref.C), 1e-5) << what;
    EXPECT_LE(test::max_rel_diff(next.n, next_ref.n), 1e-5) << what;
    EXPECT_LE(test::max_rel_diff(next.m, next_ref.m), 1e-6) << what;
    EXPECT_LE(test::max_rel_diff(in_place.C, next.C), 0.0) << what;
    state = next;
    reference = next_ref;
  }
}

TEST(MlstmStepCuda, KernelsEqualAtenStep) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  expect_kernels_equal_aten(3, 2, 40, torch::kFloat32);
  expect_kernels_equal_aten(2, 4, 384, torch::kBFloat16);
  expect_kernels_equal_aten(1, 1, 7, torch::kFloat32);
  expect_kernels_equal_aten(2, 8, 256, torch::kBFloat16, 512);
  expect_kernels_equal_aten(3, 2, 24, torch::kFloat32, 40);
}

}  // namespace
}  // namespace xlstm::ops::mlstm
