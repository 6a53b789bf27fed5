#include "xlstm/components/linear_headwise.h"

#include <cmath>

#include <gtest/gtest.h>

#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm {
namespace {

LinearHeadwiseExpand make_headwise(int in, int heads, double expand, bool bias) {
  LinearHeadwiseExpandConfig config;
  config.in_features = in;
  config.num_heads = heads;
  config.expand_factor_up = expand;
  config.bias = bias;
  return LinearHeadwiseExpand(config);
}

TEST(LinearHeadwiseExpand, MatchesPerHeadMatmul) {
  torch::manual_seed(0);
  auto layer = make_headwise(12, 3, 2.0, true);
  EXPECT_EQ(layer->weight.sizes(), (std::vector<int64_t>{3, 8, 4}));
  EXPECT_EQ(layer->bias.sizes(), (std::vector<int64_t>{24}));
  {
    torch::NoGradGuard no_grad;
    layer->bias.normal_();
  }
  const auto x = torch::randn({2, 5, 12});
  const auto y = layer(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 5, 24}));
  for (int64_t h = 0; h < 3; ++h) {
    const auto expected = torch::matmul(x.narrow(-1, 4 * h, 4), layer->weight[h].t()) +
                          layer->bias.narrow(0, 8 * h, 8);
    EXPECT_LT(test::max_abs_diff(y.narrow(-1, 8 * h, 8), expected), 1e-5) << "head " << h;
  }
  // Any leading shape, including a plain vector.
  EXPECT_LT(test::max_abs_diff(layer(x[1][2]), y[1][2]), 1e-6);
}

TEST(LinearHeadwiseExpand, InitAndNoBias) {
  torch::manual_seed(1);
  auto layer = make_headwise(1024, 16, 1.0, false);
  EXPECT_FALSE(layer->bias.defined());
  EXPECT_EQ(layer->named_parameters().size(), 1u);
  const double expected = std::sqrt(2.0 / 5.0 / 64.0);
  EXPECT_NEAR(layer->weight.std().item<double>(), expected, 0.02 * expected);

  auto with_bias = make_headwise(8, 2, 1.0, true);
  EXPECT_EQ(with_bias->bias.abs().sum().item<double>(), 0.0);
}

TEST(LinearHeadwiseExpand, GradientsAndReducedPrecision) {
  torch::manual_seed(2);
  auto layer = make_headwise(8, 4, 1.0, true);
  const auto x = torch::randn({3, 8}, torch::requires_grad());
  layer(x).sum().backward();
  // d/dW[h, o, i] sum(y) = sum_b x[b, h, i]
  EXPECT_LT(test::max_abs_diff(layer->weight.grad(),
                               x.detach().sum(0).view({4, 1, 2}).expand_as(layer->weight)),
            1e-6);
  // d/dx sum(y) = sum_o W[h, o, d]
  EXPECT_LT(test::max_abs_diff(x.grad()[0], layer->weight.sum(1).reshape({8})), 1e-6);

  const auto reference = layer(x).detach();
  // float64 is held to the float32 reference's own precision; each dtype starts from the float32
  // weights (a layer rounded to bfloat16 and back has lost them).
  for (auto dtype : {torch::kBFloat16, torch::kFloat16, torch::kFloat64}) {
    torch::manual_seed(2);
    auto cast = make_headwise(8, 4, 1.0, true);
    cast->to(dtype);
    const auto precision = dtype == torch::kFloat64 ? torch::kFloat32 : dtype;
    EXPECT_TRUE(test::close_at_precision(cast(x.detach().to(dtype)), reference, precision, 4));
  }
}

TEST(LinearHeadwiseExpand, BlockDiagonalWeightHoldsTheHeadsOnItsDiagonal) {
  torch::manual_seed(3);
  const auto weight = torch::randn({3, 2, 4}, torch::requires_grad());
  const auto dense = block_diagonal_weight(weight);
  ASSERT_EQ(dense.sizes(), (std::vector<int64_t>{6, 12}));
  EXPECT_TRUE(torch::equal(dense, torch::block_diag({weight[0], weight[1], weight[2]})));
  // The dense product is the headwise one, and so are the weight's gradients.
  auto layer = make_headwise(12, 3, 0.5, false);
  const auto x = torch::randn({5, 12}, torch::requires_grad());
  const auto y = layer(x);
  const auto dy = torch::randn_like(y);
  const auto [dx, dw] = [&] {
    const auto g = torch::autograd::grad({y}, {x, layer->weight}, {dy});
    return std::make_pair(g[0], g[1]);
  }();
  const auto y_dense = torch::linear(x, block_diagonal_weight(layer->weight));
  const auto g = torch::autograd::grad({y_dense}, {x, layer->weight}, {dy});
  EXPECT_LT(test::max_rel_diff(y_dense, y), 1e-6);
  EXPECT_LT(test::max_rel_diff(g[0], dx), 1e-6);
  EXPECT_LT(test::max_rel_diff(g[1], dw), 1e-6);
  EXPECT_FALSE(headwise_uses_dense_product(x, layer->weight));  // on the CPU: the batched products
}

TEST(LinearHeadwiseExpandCuda, DenseProductEqualsTheCpuHeadwiseOne) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(4);
  auto layer = make_headwise(64, 16, 1.0, true);  // blocks of 4, as the 125M LM's q / k / v
  {
    torch::NoGradGuard no_grad;
    layer->bias.normal_();
  }
  const auto x = torch::randn({2, 537, 64});  // enough rows for the dense product
  const auto dy = torch::randn({2, 537, 64});
  const auto run = [&](torch::Device device) {
    layer->to(device);
    layer->zero_grad();
    const auto xd = x.to(device).detach().requires_grad_();
    const auto y = layer(xd);
    y.backward(dy.to(device));
    return std::vector<torch::Tensor>{y.cpu(), xd.grad().cpu(), layer->weight.grad().cpu(),
                                      layer->bias.grad().cpu()};
  };
  const auto cpu = run(torch::kCPU);
  layer->to(torch::kCUDA);
  EXPECT_TRUE(headwise_uses_dense_product(x.cuda(), layer->weight));
  EXPECT_FALSE(headwise_uses_dense_product(x.cuda().narrow(1, 0, 8), layer->weight));  // a step
  const auto cuda = run(torch::kCUDA);
  const char* names[] = {"y", "dx", "dweight", "dbias"};
  for (size_t i = 0; i < cpu.size(); ++i)
    EXPECT_LT(test::max_rel_diff(cuda[i], cpu[i]), 1e-5) << names[i];
}

TEST(LinearHeadwiseExpand, RejectsBadInput) {
  auto layer = make_headwise(8, 4, 1.0, false);
  EXPECT_THROW(layer(torch::randn({2, 6})), c10::Error);
}

}  // namespace
}  // namespace xlstm
