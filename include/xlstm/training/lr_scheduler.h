// LinearWarmupCosineAnnealing of the official experiments/lr_scheduler.py: an absolute learning
// rate (not a multiplier of the optimizer's lr) written into every parameter group.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace xlstm {

class LinearWarmupCosineAnnealing {
 public:
  /// Like the PyTorch scheduler's constructor, sets every group's lr to compute_lr(0) (= 0 with
  /// warmup): the first optimizer.step() uses step 0, the k-th after k calls of step() step k.
  LinearWarmupCosineAnnealing(torch::optim::Optimizer& optimizer, int64_t warmup_steps,
                              int64_t decay_until_step, double max_lr, double min_lr);

  /// max_lr * step / warmup_steps during warmup, then cosine from max_lr down to min_lr at
  /// decay_until_step, min_lr after.
  static double compute_lr(int64_t step, int64_t warmup_steps, int64_t decay_until_step,
                           double max_lr, double min_lr);

  /// Advances one step (call after optimizer.step()) and sets the new lr in every group.
  void step();
  /// Steps taken so far (PyTorch's `last_epoch`).
  int64_t last_step() const { return last_step_; }
  /// The lr set by the last call (PyTorch's `get_last_lr()[0]`).
  double last_lr() const { return last_lr_; }

 private:
  void apply();

  torch::optim::Optimizer& optimizer_;
  int64_t warmup_steps_, decay_until_step_;
  double max_lr_, min_lr_;
  int64_t last_step_ = 0;
  double last_lr_ = 0.0;
};

}  // namespace xlstm
