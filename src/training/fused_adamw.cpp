#include "xlstm/training/fused_adamw.h"

#include "optimizer_state_key.h"

#if __has_include(<ATen/ops/_fused_adamw.h>)
#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_fused_adamw.h>
#define XLSTM_HAS_FUSED_ADAMW 1
#endif

namespace xlstm {

bool FusedAdamW::fused_op_available() {
#ifdef XLSTM_HAS_FUSED_ADAMW
  return true;
#else
  return false;
#endif
}

bool FusedAdamW::fused_step_applies() const {
  if (!fused_op_available()) return false;
  c10::optional<torch::Device> device;
  for (const auto& group : param_groups()) {
    c10::optional<torch::ScalarType> dtype;
    for (const auto& p : group.params()) {
      if (!p.is_cuda()) return false;
      const auto& grad = p.grad();
      if (!grad.defined()) continue;
      const auto type = p.scalar_type();
      if (grad.is_sparse() || grad.scalar_type() != type || grad.device() != p.device() ||
          (type != torch::kFloat && type != torch::kBFloat16 && type != torch::kHalf))
        return false;
      if (device && *device != p.device()) return false;
      if (dtype && *dtype != type) return false;
      device = p.device();
      dtype = type;
    }
  }
  return true;
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  if (!fused_step_applies()) return torch::optim::AdamW::step(std::move(closure));
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode grad_mode(true);
    loss = closure();
  }
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups()) fused_group_step(group);
  return loss;
}

void FusedAdamW::fused_group_step(torch::optim::OptimizerParamGroup& group) {
#ifdef XLSTM_HAS_FUSED_ADAMW
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps;
  for (const auto& p : group.params()) {
    if (!p.grad().defined()) continue;
    auto& slot = state()[optimizer_state_key(p)];
    if (!slot) {  // AdamW's first-step state
      auto fresh = std::make_unique<torch::optim::AdamWParamState>();
      fresh->step(0);
      fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      if (options.amsgrad())
        fresh->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      slot = std::move(fresh);
    }
    auto& state = static_cast<torch::optim::AdamWParamState&>(*slot);
    DeviceStep& device_step = device_steps_[p.unsafeGetTensorImpl()];
    if (!device_step.count.defined() || device_step.host_count != state.step())
      device_step.count =
          torch::full({}, static_cast<double>(state.step()),
                      torch::TensorOptions().dtype(torch::kFloat).device(p.device()));
    state.step(state.step() + 1);
    device_step.host_count = state.step();
    params.push_back(p);
    grads.push_back(p.grad());
    exp_avgs.push_back(state.exp_avg());
    exp_avg_sqs.push_back(state.exp_avg_sq());
    if (options.amsgrad()) max_exp_avg_sqs.push_back(state.max_exp_avg_sq());
    steps.push_back(device_step.count);
  }
  if (params.empty()) return;
  at::_foreach_add_(steps, 1);
  const auto [beta1, beta2] = options.betas();
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, options.lr(),
                    beta1, beta2, options.weight_decay(), options.eps(), options.amsgrad(),
                    /*maximize=*/false);
#else
  (void)group;
#endif
}

}  // namespace xlstm
