#include "xlstm/components/ln.h"

#include <gtest/gtest.h>

#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm {
namespace {

using test::max_abs_diff;

TEST(LayerNorm, ResidualWeightAndBias) {
  torch::manual_seed(0);
  LayerNorm norm(LayerNormOptions(6).weight(true).bias(true));
  EXPECT_EQ(norm->weight.abs().sum().item<double>(), 0.0);  // residual weight starts at 0
  {
    torch::NoGradGuard no_grad;
    norm->weight.normal_();
    norm->bias.normal_();
  }
  const auto x = torch::randn({2, 3, 6});
  const auto expected = torch::layer_norm(x, {6}, 1.0 + norm->weight, norm->bias, 1e-5);
  EXPECT_LT(max_abs_diff(norm(x), expected), 1e-6);
  // Against the explicit formula.
  const auto mean = x.mean(-1, true);
  const auto var = (x - mean).square().mean(-1, true);
  const auto manual = (x - mean) / torch::sqrt(var + 1e-5) * (1.0 + norm->weight) + norm->bias;
  EXPECT_LT(max_abs_diff(norm(x), manual), 1e-5);
}

TEST(LayerNorm, Variants) {
  LayerNorm plain(LayerNormOptions(4).weight(false).bias(false));
  EXPECT_TRUE(plain->parameters().empty());
  LayerNorm direct(LayerNormOptions(4).weight(true).bias(false).eps(1e-5).residual_weight(false));
  EXPECT_EQ(direct->weight.sum().item<double>(), 4.0);  // weight starts at 1
  EXPECT_EQ(direct->named_parameters().size(), 1u);
  const auto x = torch::randn({5, 4});
  EXPECT_LT(max_abs_diff(plain(x), direct(x)), 1e-6);
  EXPECT_LT(max_abs_diff(plain(x), torch::layer_norm(x, {4})), 1e-6);
  EXPECT_THROW(plain(torch::randn({5, 3})), c10::Error);
}

TEST(MultiHeadLayerNorm, NormalisesEachHead) {
  torch::manual_seed(1);
  MultiHeadLayerNorm norm(LayerNormOptions(12).weight(true).bias(false));
  {
    torch::NoGradGuard no_grad;
    norm->weight.normal_();
  }
  const int64_t batch = 2, heads = 3, seq = 5, head_dim = 4;
  const auto x = torch::randn({batch, heads, seq, head_dim}, torch::kFloat64) * 3 + 1;
  norm->to(torch::kFloat64);
  const auto y = norm(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  for (int64_t h = 0; h < heads; ++h) {
    const auto xh = x.select(1, h);  // [B, S, DH]
    const auto mean = xh.mean(-1, true);
    const auto var = (xh - mean).square().mean(-1, true);
    const auto scale = 1.0 + norm->weight.narrow(0, h * head_dim, head_dim);
    const auto expected = (xh - mean) / torch::sqrt(var + 1e-5) * scale;
    EXPECT_LT(max_abs_diff(y.select(1, h), expected), 1e-12) << "head " << h;
  }
  EXPECT_THROW(norm(torch::randn({2, 3, 5, 5}, torch::kFloat64)), c10::Error);
  EXPECT_THROW(norm(torch::randn({2, 12}, torch::kFloat64)), c10::Error);
}

TEST(MultiHeadLayerNorm, ReducedPrecision) {
  torch::manual_seed(2);
  MultiHeadLayerNorm norm(8);
  const auto x = torch::randn({2, 2, 3, 4});
  const auto reference = norm(x);
  for (auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    norm->to(dtype);
    const auto y = norm(x.to(dtype));
    EXPECT_EQ(y.scalar_type(), dtype);
    EXPECT_TRUE(test::close_at_precision(y, reference, dtype, 4));
    norm->to(torch::kFloat32);
  }
}

}  // namespace
}  // namespace xlstm
