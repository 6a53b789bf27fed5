#include "xlstm/ops/tensor_utils.h"

#include <gtest/gtest.h>

namespace xlstm::ops {
namespace {

TEST(TensorUtils, UndefinedStaysUndefined) {
  const torch::Tensor none;
  EXPECT_FALSE(to_if_defined(none, torch::kCPU, torch::kFloat64).defined());
  EXPECT_FALSE(detach_if_defined(none).defined());
  EXPECT_FALSE(contiguous_if_defined(none).defined());
  EXPECT_EQ(data_or_null<float>(none), nullptr);

  const torch::Tensor x = torch::ones({2, 3}).requires_grad_(true);
  EXPECT_EQ(to_if_defined(x, torch::kCPU, torch::kFloat64).scalar_type(), torch::kFloat64);
  EXPECT_EQ(to_if_defined(x, torch::kCPU).scalar_type(), torch::kFloat32);
  EXPECT_FALSE(detach_if_defined(x).requires_grad());
  EXPECT_TRUE(contiguous_if_defined(x.t()).is_contiguous());
  EXPECT_EQ(data_or_null<float>(x), x.data_ptr<float>());
}

TEST(TensorUtils, GradientAndCpuLoopPreconditions) {
  const torch::Tensor plain = torch::zeros({2}), none;
  const torch::Tensor trained = torch::zeros({2}).requires_grad_(true);
  EXPECT_FALSE(needs_grad({plain, none}));
  EXPECT_TRUE(needs_grad({plain, trained}));
  EXPECT_TRUE(cpu_loop_ready({plain, none}, torch::kFloat32));
  EXPECT_FALSE(cpu_loop_ready({plain, none}, torch::kFloat64));
  EXPECT_FALSE(cpu_loop_ready({plain, trained}, torch::kFloat32));
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(needs_grad({trained}));
  EXPECT_TRUE(cpu_loop_ready({plain, trained}, torch::kFloat32));
}

}  // namespace
}  // namespace xlstm::ops
