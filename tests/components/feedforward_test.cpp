#include "xlstm/components/feedforward.h"

#include <cmath>

#include <gtest/gtest.h>

#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm {
namespace {

using test::max_abs_diff;

TEST(FeedForward, ActivationsMatchTheirFormulas) {
  const auto x = torch::linspace(-4, 4, 81, torch::kFloat64);
  const double alpha = 1.6732632423543772, scale = 1.0507009873554805;
  const std::vector<std::pair<std::string, torch::Tensor>> cases = {
      {"gelu", 0.5 * x * (1 + torch::erf(x / std::sqrt(2.0)))},
      {"relu", torch::clamp_min(x, 0)},
      {"relu^2", torch::clamp_min(x, 0).square()},
      {"sigmoid", 1 / (1 + torch::exp(-x))},
      {"swish", x / (1 + torch::exp(-x))},
      {"selu", scale * torch::where(x > 0, x, alpha * (torch::exp(x) - 1))},
  };
  for (const auto& [name, expected] : cases) {
    EXPECT_LT(max_abs_diff(get_act_fn(name)(x), expected), 1e-12) << name;
  }
  EXPECT_THROW(get_act_fn("tanh"), std::invalid_argument);
}

FeedForwardConfig make_config(const std::string& act_fn, bool bias, int num_blocks = 1) {
  FeedForwardConfig config;
  config.embedding_dim = 32;
  config.act_fn = act_fn;
  config.bias = bias;
  config._num_blocks = num_blocks;
  return config;
}

TEST(GatedFeedForward, MatchesExplicitFormula) {
  torch::manual_seed(0);
  for (const std::string act : {"gelu", "swish", "relu^2"}) {
    auto ffn = create_feedforward(make_config(act, true));
    EXPECT_EQ(ffn->config._proj_up_dim, 64);  // 1.3 * 32 rounded up to a multiple of 64
    EXPECT_EQ(ffn->proj_up->weight.sizes(), (std::vector<int64_t>{128, 32}));
    EXPECT_EQ(ffn->proj_down->weight.sizes(), (std::vector<int64_t>{32, 64}));
    const auto x = torch::randn({2, 3, 32});
    const auto up = torch::matmul(x, ffn->proj_up->weight.t()) + ffn->proj_up->bias;
    const auto gated = get_act_fn(act)(up.narrow(-1, 0, 64)) * up.narrow(-1, 64, 64);
    const auto expected = torch::matmul(gated, ffn->proj_down->weight.t()) + ffn->proj_down->bias;
    EXPECT_LT(max_abs_diff(ffn(x), expected), 1e-5) << act;
  }
}

TEST(GatedFeedForward, ParameterNamesAndInit) {
  torch::manual_seed(1);
  FeedForwardConfig config = make_config("gelu", false, 4);
  config.embedding_dim = 256;
  auto ffn = create_feedforward(config);
  std::vector<std::string> names;
  for (const auto& item : ffn->named_parameters()) names.push_back(item.key());
  EXPECT_EQ(names, (std::vector<std::string>{"proj_up.weight", "proj_down.weight"}));
  const double up_std = std::sqrt(2.0 / (5.0 * 256)), down_std = 2.0 / 4.0 / 16.0;
  EXPECT_NEAR(ffn->proj_up->weight.std().item<double>(), up_std, 0.02 * up_std);
  EXPECT_NEAR(ffn->proj_down->weight.std().item<double>(), down_std, 0.02 * down_std);

  auto with_bias = create_feedforward(make_config("relu", true));
  EXPECT_EQ(with_bias->proj_up->bias.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(with_bias->proj_down->bias.abs().sum().item<double>(), 0.0);
}

TEST(GatedFeedForward, ReducedPrecisionAndErrors) {
  torch::manual_seed(2);
  auto ffn = create_feedforward(make_config("gelu", false));
  const auto x = torch::randn({4, 32});
  const auto reference = ffn(x);
  for (auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    test::in_precision(*ffn, dtype, [&] {
      const auto y = ffn(x.to(dtype));
      EXPECT_EQ(y.scalar_type(), dtype);
      EXPECT_TRUE(test::close_at_precision(y, reference, dtype, 4));
    });
  }
  EXPECT_THROW(ffn(torch::randn({4, 31}, torch::kBFloat16)), c10::Error);
}

}  // namespace
}  // namespace xlstm
