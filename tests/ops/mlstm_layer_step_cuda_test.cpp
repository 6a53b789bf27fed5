// The mLSTM layer step kernels (ops::mlstm::layer_step_cuda; skipped without a GPU) against the
// CPU layer step (float32: within 1e-5; bfloat16 weights and inputs against the float32 step on
// the same rounded values: within 3% of the largest value, the rounding of the intermediate
// values to bfloat16), over chained steps, functional and in place; and mLSTMLayer's CUDA step
// (which takes these kernels) against its ATen step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "support/environment.h"
#include "support/tensor_compare.h"
#include "xlstm/blocks/mlstm/layer.h"
#include "xlstm/ops/mlstm_layer_step.h"

namespace xlstm::ops::mlstm {
namespace {

struct Shape {
  int64_t B, F, NH, QH, KS;
  bool biases;
};

LayerStepWeights random_weights(const Shape& s) {
  const int64_t P = s.F / s.QH;
  const auto r = [](c10::IntArrayRef sizes, double scale) { return torch::randn(sizes) * scale; };
  LayerStepWeights w;
  w.conv_weight = r({s.F, 1, s.KS}, 0.5);
  // Scaled by the fan-in, so that q / k / v and the gates stay of order one at every width.
  const double headwise = 1.0 / std::sqrt(static_cast<double>(P));
  const double gate = 1.0 / std::sqrt(3.0 * static_cast<double>(s.F));
  w.q_weight = r({s.QH, P, P}, headwise);
  w.k_weight = r({s.QH, P, P}, headwise);
  w.v_weight = r({s.QH, P, P}, headwise);
  w.igate_weight = r({s.NH, 3 * s.F}, gate);
  w.fgate_weight = r({s.NH, 3 * s.F}, gate);
  w.learnable_skip = r({s.F}, 1.0);
  if (s.biases) {
    w.conv_bias = r({s.F}, 0.1);
    w.q_bias = r({s.F}, 0.1);
    w.k_bias = r({s.F}, 0.1);
    w.v_bias = r({s.F}, 0.1);
    w.igate_bias = r({s.NH}, 1.0);
    w.fgate_bias = r({s.NH}, 1.0) + 3;
    w.norm_weight = r({s.F}, 0.2) + 1;
    w.norm_bias = r({s.F}, 0.1);
  }
  w.num_heads = s.NH;
  return w;
}

LayerStepWeights converted(const LayerStepWeights& w, const torch::TensorOptions& options) {
  LayerStepWeights out = w;
  for (torch::Tensor* t :
       {&out.conv_weight, &out.conv_bias, &out.q_weight, &out.q_bias, &out.k_weight, &out.k_bias,
        &out.v_weight, &out.v_bias, &out.igate_weight, &out.igate_bias, &out.fgate_weight,
        &out.fgate_bias, &out.norm_weight, &out.norm_bias, &out.learnable_skip})
    if (t->defined()) *t = t->to(options);
  return out;
}

LayerStepState converted(const LayerStepState& s, const torch::Device& device,
                         torch::ScalarType conv_dtype) {
  const auto to = [&](const torch::Tensor& t) { return t.to(device, torch::kFloat32).clone(); };
  return {{to(s.cell.C), to(s.cell.n), to(s.cell.m)}, s.conv.to(device, conv_dtype).clone()};
}

void expect_close(const LayerStepResult& cuda, const LayerStepResult& cpu, double tolerance,
                  const std::string& what) {
  EXPECT_LE(test::max_rel_diff(cuda.h.cpu().to(torch::kFloat32), cpu.h), tolerance) << what << " h";
  EXPECT_LE(test::max_rel_diff(cuda.state.cell.C.cpu(), cpu.state.cell.C), tolerance) << what;
  EXPECT_LE(test::max_rel_diff(cuda.state.cell.n.cpu(), cpu.state.cell.n), tolerance) << what;
  EXPECT_LE(test::max_abs_diff(cuda.state.cell.m.cpu(), cpu.state.cell.m), tolerance) << what;
  EXPECT_LE(test::max_rel_diff(cuda.state.conv.cpu().to(torch::kFloat32), cpu.state.conv), 0.0)
      << what << " conv";
}

void expect_kernels_equal_cpu(const Shape& s, torch::ScalarType dtype) {
  torch::manual_seed(11);
  const torch::Device cuda(torch::kCUDA);
  // bfloat16: the CPU reference runs in float32 on the bfloat16-rounded weights and inputs.
  const LayerStepWeights cpu_w =
      converted(converted(random_weights(s), torch::TensorOptions().dtype(dtype)),
                torch::TensorOptions().dtype(torch::kFloat32));
  const LayerStepWeights cuda_w =
      converted(cpu_w, torch::TensorOptions().device(cuda).dtype(dtype));
  const int64_t DH = s.F / s.NH;
  LayerStepState cpu_state{{torch::randn({s.B, s.NH, DH, DH}), torch::randn({s.B, s.NH, DH, 1}),
                            torch::randn({s.B, s.NH, 1, 1})},
                           torch::randn({s.B, s.KS, s.F}).to(dtype).to(torch::kFloat32)};
  LayerStepState cuda_state = converted(cpu_state, cuda, dtype);
  LayerStepState in_place = converted(cpu_state, cuda, dtype);
  const double tolerance = dtype == torch::kFloat32 ? 1e-5 : 3e-2;
  for (int t = 0; t < 3; ++t) {
    const std::string what = "B" + std::to_string(s.B) + " F" + std::to_string(s.F) + " NH" +
                             std::to_string(s.NH) + " step " + std::to_string(t);
    const torch::Tensor x = torch::randn({s.B, 1, 2 * s.F}).to(dtype);
    ASSERT_TRUE(layer_step_cuda_applies(cuda_w, x.to(cuda), cuda_state)) << what;
    const LayerStepResult cpu = layer_step_cpu(cpu_w, x.to(torch::kFloat32), cpu_state);
    const LayerStepResult fused = layer_step_cuda(cuda_w, x.to(cuda), cuda_state);
    const LayerStepResult same = layer_step_cuda(cuda_w, x.to(cuda), in_place, &in_place);
    expect_close(fused, cpu, tolerance, what);
    EXPECT_EQ(fused.h.scalar_type(), dtype) << what;
    EXPECT_EQ(same.state.cell.C.data_ptr(), in_place.cell.C.data_ptr()) << what;
    EXPECT_LE(test::max_rel_diff(same.h, fused.h), 0.0) << what << " in place";
    EXPECT_LE(test::max_rel_diff(in_place.cell.C, fused.state.cell.C), 0.0) << what << " in place";
    EXPECT_LE(test::max_rel_diff(in_place.conv, fused.state.conv), 0.0) << what << " in place";
    cpu_state = cpu.state;
    cuda_state = fused.state;
  }
}

TEST(MlstmLayerStepCuda, KernelsEqualTheCpuLayerStep) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  expect_kernels_equal_cpu({2, 32, 2, 8, 4, true}, torch::kFloat32);
  expect_kernels_equal_cpu({3, 48, 3, 12, 2, false}, torch::kFloat32);
  // Headwise blocks of 512, wider than the features kernel's 256 threads.
  expect_kernels_equal_cpu({2, 1024, 4, 2, 4, true}, torch::kFloat32);
  expect_kernels_equal_cpu({1, 1536, 4, 384, 4, false}, torch::kBFloat16);  // the 125M-like LM
  expect_kernels_equal_cpu({4, 256, 2, 64, 4, true}, torch::kBFloat16);
}

TEST(MlstmLayerStepCuda, LayerStepEqualsItsAtenStep) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(12);
  mLSTMLayerConfig config;
  config.embedding_dim = 64;
  config.num_heads = 4;
  config.context_length = 16;
  config.bias = true;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    mLSTMLayer layer(config);
    torch::NoGradGuard no_grad;
    for (auto& p : layer->parameters()) p.add_(torch::randn_like(p), 0.1);
    layer->to(torch::kCUDA, dtype);
    const auto prompt = torch::randn({2, 5, 64}, torch::kCUDA).to(dtype);
    const mLSTMState start = layer->forward_with_state(prompt).second;
    const auto clone = [](const mLSTMState& s) {
      return mLSTMState{s.C.clone(), s.n.clone(), s.m.clone(), s.conv.clone()};
    };
    mLSTMState fused = clone(start), aten = clone(start);
    const double tolerance = dtype == torch::kFloat32 ? 1e-5 : 3e-2;
    for (int t = 0; t < 4; ++t) {
      const auto x = torch::randn({2, 1, 64}, torch::kCUDA).to(dtype);
      const auto y = layer->step_in_place(x, fused);
      const auto y_aten = test::with_environment("XLSTM_MLSTM_STEP_KERNEL", "0",
                                                 [&] { return layer->step_in_place(x, aten); });
      const std::string what = std::string(c10::toString(dtype)) + " step " + std::to_string(t);
      EXPECT_LE(test::max_rel_diff(y.to(torch::kFloat32), y_aten.to(torch::kFloat32)), tolerance)
          << what;
      EXPECT_LE(test::max_rel_diff(fused.C, aten.C), tolerance) << what;
      EXPECT_LE(test::max_rel_diff(fused.n, aten.n), tolerance) << what;
      EXPECT_LE(test::max_abs_diff(fused.m, aten.m), tolerance) << what;
      EXPECT_LE(test::max_rel_diff(fused.conv, aten.conv), 0.0) << what;
    }
  }
}

}  // namespace
}  // namespace xlstm::ops::mlstm
