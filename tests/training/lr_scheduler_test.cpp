#include "xlstm/training/lr_scheduler.h"

#include <gtest/gtest.h>

#include <cmath>

namespace xlstm {
namespace {

constexpr double kMax = 1e-3, kMin = 1e-6;  // warmup 100 steps, decay until step 1000

double lr_at(int64_t step) {
  return LinearWarmupCosineAnnealing::compute_lr(step, 100, 1000, kMax, kMin);
}

TEST(LinearWarmupCosineAnnealing, OfficialFormulaAtKeySteps) {
  EXPECT_DOUBLE_EQ(lr_at(0), 0.0);
  EXPECT_DOUBLE_EQ(lr_at(50), 5e-4);  // mid-warmup: max * 50/100
  EXPECT_DOUBLE_EQ(lr_at(99), 9.9e-4);
  EXPECT_DOUBLE_EQ(lr_at(100), kMax);  // end of warmup: cos(0) = 1
  // A quarter into the decay: coeff = (1 + cos(pi/4)) / 2 = 1/2 + sqrt(2)/4.
  EXPECT_NEAR(lr_at(325), kMin + (0.5 + std::sqrt(2.0) / 4) * (kMax - kMin), 1e-15);
  EXPECT_NEAR(lr_at(550), (kMax + kMin) / 2, 1e-15);       // mid-decay: coeff 1/2
  EXPECT_NEAR(lr_at(999), 1.0030431249336987e-06, 1e-18);  // value of the Python function
  EXPECT_DOUBLE_EQ(lr_at(1000), kMin);                     // decay end
  EXPECT_DOUBLE_EQ(lr_at(1500), kMin);                     // after decay end
}

TEST(LinearWarmupCosineAnnealing, NoWarmupAndParityConfig) {
  EXPECT_DOUBLE_EQ(LinearWarmupCosineAnnealing::compute_lr(0, 0, 10, 1.0, 0.0), 1.0);
  EXPECT_NEAR(LinearWarmupCosineAnnealing::compute_lr(5, 0, 10, 1.0, 0.0), 0.5, 1e-15);
  // parity_xlstm11.yaml: lr 1e-3, warmup 2000, decay until num_steps 20000, min = 1e-3 * 1e-3.
  EXPECT_DOUBLE_EQ(LinearWarmupCosineAnnealing::compute_lr(1000, 2000, 20000, 1e-3, 1e-6), 5e-4);
  EXPECT_NEAR(LinearWarmupCosineAnnealing::compute_lr(11000, 2000, 20000, 1e-3, 1e-6),
              (1e-3 + 1e-6) / 2, 1e-15);
}

// The scheduler writes the absolute lr into every group, starting at step 0 (lr 0) like the
// PyTorch constructor: the first optimizer step does not move the parameters.
TEST(LinearWarmupCosineAnnealing, SetsEveryParamGroupOfAdamW) {
  auto decayed = torch::ones({3}, torch::requires_grad());
  auto plain = torch::ones({2}, torch::requires_grad());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{decayed},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(0.5).weight_decay(0.1)));
  groups.emplace_back(std::vector<torch::Tensor>{plain},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(0.5).weight_decay(0.0)));
  torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(0.5));
  LinearWarmupCosineAnnealing scheduler(optimizer, 100, 1000, kMax, kMin);
  EXPECT_EQ(scheduler.last_step(), 0);
  for (auto& group : optimizer.param_groups()) EXPECT_EQ(group.options().get_lr(), 0.0);

  (decayed.sum() + plain.sum()).backward();
  optimizer.step();
  EXPECT_TRUE(decayed.equal(torch::ones({3})));  // lr 0: no update, no decay
  for (int i = 0; i < 50; ++i) scheduler.step();
  EXPECT_EQ(scheduler.last_step(), 50);
  EXPECT_DOUBLE_EQ(scheduler.last_lr(), 5e-4);
  for (auto& group : optimizer.param_groups()) EXPECT_DOUBLE_EQ(group.options().get_lr(), 5e-4);
  optimizer.step();
  EXPECT_LT(decayed[0].item<double>(), 1.0);
}

}  // namespace
}  // namespace xlstm
