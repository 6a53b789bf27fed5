// FusedAdamW against torch::optim::AdamW: the same update over steps with two parameter groups
// (with and without weight decay), a learning rate that changes between steps and a parameter
// without a gradient; on the CPU its step is AdamW's, on CUDA the fused op's (within float32
// rounding), and a state moves between the two optimizers through torch::save / torch::load.
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "xlstm/training/fused_adamw.h"

namespace xlstm {
namespace {

using torch::optim::AdamW;
using torch::optim::AdamWOptions;
using torch::optim::OptimizerParamGroup;

std::vector<torch::Tensor> make_params(const torch::Device& device) {
  torch::manual_seed(3);
  const auto f32 = torch::TensorOptions().device(device);
  return {torch::randn({7}, f32).requires_grad_(true),
          torch::randn({33, 65}, f32).requires_grad_(true),
          torch::randn({4, 3, 5}, f32).requires_grad_(true),
          torch::randn({6}, f32).requires_grad_(true)};  // never gets a gradient
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone().requires_grad_(true));
  return out;
}

/// Groups {p0, p1} with weight decay 0.1 and {p2, p3} without, betas and eps off the defaults.
template <class Optimizer>
Optimizer make_optimizer(const std::vector<torch::Tensor>& p) {
  const auto options = [](double weight_decay) {
    return std::make_unique<AdamWOptions>(
        AdamWOptions(1e-2).betas({0.8, 0.95}).eps(1e-7).weight_decay(weight_decay));
  };
  std::vector<OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{p[0], p[1]}, options(0.1));
  groups.emplace_back(std::vector<torch::Tensor>{p[2], p[3]}, options(0.0));
  return Optimizer(std::move(groups), AdamWOptions(1e-2));
}

/// `steps` steps on gradients of a fixed function of the parameters (p3 left without one), the
/// learning rate halved after each.
void run_steps(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& p, int steps) {
  for (int s = 0; s < steps; ++s) {
    optimizer.zero_grad();
    const auto loss = (p[0] * p[0]).sum() + (p[1].sin() * 3).sum() + p[2].pow(3).mean();
    loss.backward();
    optimizer.step();
    for (auto& group : optimizer.param_groups())
      static_cast<AdamWOptions&>(group.options())
          .lr(static_cast<AdamWOptions&>(group.options()).lr() / 2);
  }
}

void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                  double rtol) {
  for (size_t i = 0; i < a.size(); ++i) {
    const double scale = b[i].abs().max().item<double>();
    EXPECT_LE((a[i] - b[i]).abs().max().item<double>(), rtol * scale) << "parameter " << i;
  }
}

/// A round trip of `from`'s state into `to` through torch::save / torch::load.
void move_state(torch::optim::Optimizer& from, torch::optim::Optimizer& to) {
  std::stringstream archive;
  torch::save(from, archive);
  torch::load(to, archive);
}

TEST(FusedAdamW, OnTheCpuItStepsAsAdamW) {
  const auto p = make_params(torch::kCPU);
  const auto q = copies(p);
  auto fused = make_optimizer<FusedAdamW>(p);
  auto plain = make_optimizer<AdamW>(q);
  EXPECT_FALSE(fused.fused_step_applies());
  run_steps(fused, p, 3);
  run_steps(plain, q, 3);
  expect_close(p, q, 0.0);
  EXPECT_FALSE(p[3].grad().defined());
}

TEST(FusedAdamWCuda, FusedStepEqualsAdamWAndSharesItsState) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto p = make_params(torch::kCUDA);
  const auto q = copies(p);
  const auto start = copies(p);
  auto fused = make_optimizer<FusedAdamW>(p);
  auto plain = make_optimizer<AdamW>(q);
  run_steps(fused, p, 1);  // the gradients exist from here on
  EXPECT_EQ(fused.fused_step_applies(), FusedAdamW::fused_op_available());
  run_steps(fused, p, 2);
  run_steps(plain, q, 3);
  expect_close(p, q, 1e-6);
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(torch::equal(p[i], start[i])) << i;
  EXPECT_TRUE(torch::equal(p[3], start[3]));  // no gradient, no update (no weight decay either)

  // The fused optimizer's state continues in a plain AdamW, and the other way round.
  const auto r = copies(p);
  auto plain_from_fused = make_optimizer<AdamW>(r);
  move_state(fused, plain_from_fused);
  const auto s = copies(q);
  auto fused_from_plain = make_optimizer<FusedAdamW>(s);
  move_state(plain, fused_from_plain);
  run_steps(plain_from_fused, r, 2);
  run_steps(fused_from_plain, s, 2);
  run_steps(plain, q, 2);
  expect_close(r, q, 1e-6);
  expect_close(s, q, 1e-6);
}

}  // namespace
}  // namespace xlstm
