#include "xlstm/training/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace xlstm {
namespace {

// Two sequences of three positions, vocab 3; targets only at three positions.
struct Case {
  torch::Tensor logits = torch::tensor({{{2.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 0.0, 3.0}},
                                        {{1.0, 1.0, 4.0}, {0.5, 0.0, 0.0}, {0.0, 2.0, 1.0}}});
  torch::Tensor targets = torch::tensor({{-1, 1, -1}, {2, -1, 0}}, torch::kLong);
};

double log_sum_exp(std::initializer_list<double> xs) {
  double s = 0.0;
  for (const double x : xs) s += std::exp(x);
  return std::log(s);
}

TEST(ExperimentsMetrics, CrossEntropyIgnoresMinusOne) {
  const Case c;
  const double expected = ((log_sum_exp({0, 1, 0}) - 1.0) + (log_sum_exp({1, 1, 4}) - 4.0) +
                           (log_sum_exp({0, 2, 1}) - 0.0)) /
                          3.0;
  EXPECT_NEAR(sequence_cross_entropy(c.logits, c.targets).item<double>(), expected, 1e-6);
  // Reduced-precision logits are evaluated in float32.
  const auto bf16 = sequence_cross_entropy(c.logits.to(torch::kBFloat16), c.targets);
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat);
  EXPECT_NEAR(bf16.item<double>(), expected, 2e-2);
  // Nothing to predict: 0/0 as in PyTorch.
  EXPECT_TRUE(std::isnan(
      sequence_cross_entropy(c.logits, torch::full({2, 3}, -1, torch::kLong)).item<double>()));
  EXPECT_THROW(sequence_cross_entropy(c.logits, c.targets.slice(1, 0, 2)), c10::Error);
}

TEST(ExperimentsMetrics, SequenceAccuracyAccumulatesOverTargetPositions) {
  const Case c;
  SequenceAccuracy accuracy;
  EXPECT_EQ(accuracy.compute(), 0.0);
  accuracy.update(c.logits, c.targets);  // argmax 1 == 1, 2 == 2, 1 != 0
  EXPECT_EQ(accuracy.correct(), 2);
  EXPECT_EQ(accuracy.total(), 3);
  EXPECT_DOUBLE_EQ(accuracy.compute(), 2.0 / 3.0);
  accuracy.update(c.logits[0].unsqueeze(0), torch::tensor({{0, 0, 2}}, torch::kLong));
  EXPECT_EQ(accuracy.correct(), 4);  // 0 == 0, 1 != 0, 2 == 2
  EXPECT_EQ(accuracy.total(), 6);
  accuracy.reset();
  EXPECT_EQ(accuracy.total(), 0);
  EXPECT_THROW(accuracy.update(c.logits, c.targets.reshape({-1})), c10::Error);
}

}  // namespace
}  // namespace xlstm
