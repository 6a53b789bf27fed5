#include "xlstm/training/lr_scheduler.h"

#include <cmath>

namespace xlstm {

LinearWarmupCosineAnnealing::LinearWarmupCosineAnnealing(torch::optim::Optimizer& optimizer,
                                                         int64_t warmup_steps,
                                                         int64_t decay_until_step, double max_lr,
                                                         double min_lr)
    : optimizer_(optimizer),
      warmup_steps_(warmup_steps),
      decay_until_step_(decay_until_step),
      max_lr_(max_lr),
      min_lr_(min_lr) {
  TORCH_CHECK(warmup_steps >= 0, "LinearWarmupCosineAnnealing: warmup_steps must be >= 0, got ",
              warmup_steps);
  apply();
}

double LinearWarmupCosineAnnealing::compute_lr(int64_t step, int64_t warmup_steps,
                                               int64_t decay_until_step, double max_lr,
                                               double min_lr) {
  if (step < warmup_steps) return max_lr * static_cast<double>(step) / warmup_steps;
  if (step > decay_until_step) return min_lr;
  if (step < decay_until_step) {  // and step >= warmup_steps: the cosine half period
    const double decay_ratio =
        static_cast<double>(step - warmup_steps) / (decay_until_step - warmup_steps);
    const double coeff = 0.5 * (1.0 + std::cos(M_PI * decay_ratio));
    return min_lr + coeff * (max_lr - min_lr);
  }
  return min_lr;  // step == decay_until_step
}

void LinearWarmupCosineAnnealing::step() {
  ++last_step_;
  apply();
}

void LinearWarmupCosineAnnealing::apply() {
  last_lr_ = compute_lr(last_step_, warmup_steps_, decay_until_step_, max_lr_, min_lr_);
  for (auto& group : optimizer_.param_groups()) group.options().set_lr(last_lr_);
}

}  // namespace xlstm
