#include "xlstm/components/init.h"

#include <cmath>

#include <gtest/gtest.h>

namespace xlstm {
namespace {

TEST(ComponentsInit, SmallInitStd) {
  torch::manual_seed(0);
  const torch::Tensor param = torch::empty({300, 400}, torch::requires_grad());
  small_init_(param, 64);
  EXPECT_FALSE(param.grad_fn());
  EXPECT_NEAR(param.std().item<double>(), std::sqrt(2.0 / (5.0 * 64)), 0.01 * std::sqrt(2.0 / 320));
  EXPECT_NEAR(param.mean().item<double>(), 0.0, 0.002);
}

TEST(ComponentsInit, WangInitStd) {
  torch::manual_seed(0);
  const torch::Tensor param = torch::empty({300, 400}, torch::kFloat64);
  wang_init_(param, 100, 4);
  const double expected = 2.0 / 4.0 / 10.0;
  EXPECT_NEAR(param.std().item<double>(), expected, 0.01 * expected);
  EXPECT_NEAR(param.mean().item<double>(), 0.0, 0.002);
}

TEST(ComponentsInit, BiasLinspaceIsExact) {
  const torch::Tensor bias = torch::zeros({5});
  bias_linspace_init_(bias, 3.0, 6.0);
  const std::vector<float> expected = {3.0f, 3.75f, 4.5f, 5.25f, 6.0f};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(bias[i].item<float>(), expected[i]);

  const torch::Tensor defaults = torch::zeros({3}, torch::kFloat64);
  bias_linspace_init_(defaults);
  EXPECT_DOUBLE_EQ(defaults[0].item<double>(), 3.4f);
  EXPECT_DOUBLE_EQ(defaults[1].item<double>(), 4.7f);
  EXPECT_DOUBLE_EQ(defaults[2].item<double>(), 6.0f);
}

TEST(ComponentsInit, BiasLinspaceRejectsMatrix) {
  EXPECT_THROW(bias_linspace_init_(torch::zeros({2, 3})), c10::Error);
}

}  // namespace
}  // namespace xlstm
