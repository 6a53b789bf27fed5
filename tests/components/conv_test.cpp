#include "xlstm/components/conv.h"

#include <cmath>

#include <gtest/gtest.h>

#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm {
namespace {

using test::max_abs_diff;

CausalConv1d make_conv(int features, int kernel_size, bool bias = true, bool mixing = false) {
  CausalConv1dConfig config;
  config.feature_dim = features;
  config.kernel_size = kernel_size;
  config.causal_conv_bias = bias;
  config.channel_mixing = mixing;
  return CausalConv1d(config);
}

// y[b, t, o] = bias[o] + sum_{k, i} W[o, i, k] x[b, t - (KS - 1) + k, i], with x = 0 before t = 0.
torch::Tensor reference_conv(const torch::Tensor& x, const CausalConv1d& conv, bool mixing) {
  const auto acc = x.to(torch::kFloat64);
  const auto weight = conv->conv->weight.to(torch::kFloat64);
  const int64_t batch = x.size(0), seq = x.size(1), features = x.size(2), ks = weight.size(2);
  torch::Tensor y = torch::zeros({batch, seq, features}, torch::kFloat64);
  if (conv->conv->bias.defined()) y += conv->conv->bias.to(torch::kFloat64);
  for (int64_t t = 0; t < seq; ++t) {
    for (int64_t k = 0; k < ks; ++k) {
      const int64_t src = t - (ks - 1) + k;
      if (src < 0) continue;
      const auto x_src = acc.select(1, src);  // [B, F]
      if (mixing) {
        y.select(1, t) += torch::matmul(x_src, weight.select(2, k).t());
      } else {
        y.select(1, t) += x_src * weight.select(1, 0).select(1, k);
      }
    }
  }
  return y;
}

TEST(CausalConv1d, DepthwiseMatchesExplicitLoopAndTorchConv) {
  torch::manual_seed(1);
  auto conv = make_conv(6, 4);
  EXPECT_EQ(conv->conv->weight.sizes(), (std::vector<int64_t>{6, 1, 4}));
  const auto x = torch::randn({3, 9, 6});
  const auto y = conv(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_LT(max_abs_diff(y, reference_conv(x, conv, false)), 1e-5);
  // The Python formulation: nn.Conv1d with symmetric padding, the first S outputs.
  const auto python_style = conv->conv(x.transpose(1, 2)).narrow(2, 0, 9).transpose(1, 2);
  EXPECT_LT(max_abs_diff(y, python_style), 1e-5);
}

TEST(CausalConv1d, ChannelMixingWithoutBias) {
  torch::manual_seed(2);
  auto conv = make_conv(5, 3, /*bias=*/false, /*mixing=*/true);
  EXPECT_FALSE(conv->conv->bias.defined());
  EXPECT_EQ(conv->conv->weight.sizes(), (std::vector<int64_t>{5, 5, 3}));
  const auto x = torch::randn({2, 7, 5});
  EXPECT_LT(max_abs_diff(conv(x), reference_conv(x, conv, true)), 1e-5);
}

TEST(CausalConv1d, PiecesAndStepsEqualWhole) {
  torch::manual_seed(3);
  for (bool mixing : {false, true}) {
    auto conv = make_conv(4, 4, true, mixing);
    const auto x = torch::randn({2, 11, 4}, torch::kFloat64);
    conv->to(torch::kFloat64);
    const auto whole = conv(x);

    auto [y1, s1] = conv->forward_with_state(x.narrow(1, 0, 2), {});
    EXPECT_EQ(s1.sizes(), (std::vector<int64_t>{2, 4, 4}));
    auto [y2, s2] = conv->forward_with_state(x.narrow(1, 2, 1), s1);
    auto [y3, s3] = conv->forward_with_state(x.narrow(1, 3, 8), s2);
    EXPECT_LT(max_abs_diff(torch::cat({y1, y2, y3}, 1), whole), 1e-12);
    EXPECT_LT(max_abs_diff(s3, x.narrow(1, 7, 4)), 0.0 + 1e-15);

    torch::Tensor state = torch::zeros({2, 4, 4}, torch::kFloat64);
    std::vector<torch::Tensor> outputs;
    for (int64_t t = 0; t < 11; ++t) {
      auto [y, next] = conv->step(x.narrow(1, t, 1), state);
      outputs.push_back(y);
      state = next;
    }
    EXPECT_LT(max_abs_diff(torch::cat(outputs, 1), whole), 1e-12);
  }
}

TEST(CausalConv1d, KernelSizeZeroIsIdentity) {
  auto conv = make_conv(3, 0);
  EXPECT_TRUE(conv->parameters().empty());
  const auto x = torch::randn({2, 5, 3});
  EXPECT_TRUE(torch::equal(conv(x), x));
  EXPECT_TRUE(torch::equal(conv->step(x.narrow(1, 0, 1), {}).first, x.narrow(1, 0, 1)));
}

TEST(CausalConv1d, ResetParametersLikeConv1d) {
  torch::manual_seed(4);
  auto conv = make_conv(512, 4);
  {
    torch::NoGradGuard no_grad;
    conv->conv->weight.fill_(7.0);
  }
  conv->reset_parameters();
  // nn.Conv1d: kaiming_uniform(a = sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = KS
  // here.
  const double bound = 1.0 / std::sqrt(4.0);
  EXPECT_LE(conv->conv->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(conv->conv->weight.std().item<double>(), bound / std::sqrt(3.0), 0.05 * bound);
  EXPECT_LE(conv->conv->bias.abs().max().item<double>(), bound);
}

TEST(CausalConv1d, ReducedPrecision) {
  torch::manual_seed(5);
  auto conv = make_conv(8, 4);
  const auto x = torch::randn({2, 6, 8});
  const auto reference = conv(x);
  for (auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    test::in_precision(*conv, dtype, [&] {
      const auto y = conv(x.to(dtype));
      EXPECT_EQ(y.scalar_type(), dtype);
      EXPECT_TRUE(test::close_at_precision(y, reference, dtype, 4));
    });
  }
}

// bf16 / fp16 on CUDA run one depthwise convolution: output and gradients against the float32
// tap loop on the CPU.
TEST(CausalConv1dCuda, HalfPrecisionMatchesFloat32Loop) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  auto conv = make_conv(24, 4);
  const auto x = torch::randn({3, 17, 24});
  const auto grad = torch::randn({3, 17, 24});
  const auto x_ref = x.clone().requires_grad_(true);
  const auto y_ref = conv(x_ref);
  (y_ref * grad).sum().backward();
  const auto weight_grad_ref = conv->conv->weight.grad().clone();
  for (auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    auto gpu = make_conv(24, 4);
    gpu->conv->weight.set_data(conv->conv->weight.detach().clone());
    gpu->conv->bias.set_data(conv->conv->bias.detach().clone());
    gpu->to(torch::kCUDA, dtype);
    const auto x_gpu = x.to(torch::kCUDA, dtype).requires_grad_(true);
    const auto y = gpu(x_gpu);
    (y * grad.to(torch::kCUDA, dtype)).sum().backward();
    EXPECT_EQ(y.scalar_type(), dtype);
    // The weight gradient sums B * S = 51 products per tap: sqrt(51) ~ 7 more roundings.
    EXPECT_TRUE(test::close_at_precision(y.cpu(), y_ref, dtype, 4));
    EXPECT_TRUE(test::close_at_precision(x_gpu.grad().cpu(), x_ref.grad(), dtype, 4));
    EXPECT_TRUE(
        test::close_at_precision(gpu->conv->weight.grad().cpu(), weight_grad_ref, dtype, 12));
  }
}

TEST(CausalConv1d, RejectsBadShapes) {
  auto conv = make_conv(4, 3);
  EXPECT_THROW(conv(torch::randn({2, 5, 3})), c10::Error);
  EXPECT_THROW(conv(torch::randn({5, 4})), c10::Error);
  EXPECT_THROW(conv->step(torch::randn({2, 2, 4}), {}), c10::Error);
  EXPECT_THROW(conv->forward_with_state(torch::randn({2, 2, 4}), torch::zeros({2, 2, 4})),
               c10::Error);
}

}  // namespace
}  // namespace xlstm
