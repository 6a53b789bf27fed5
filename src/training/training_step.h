// One optimizer step of the official loop, and the forward pass it shares with validation.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "xlstm/training/batch.h"
#include "xlstm/training/language_model.h"
#include "xlstm/training/lr_scheduler.h"
#include "xlstm/training/metrics.h"

namespace xlstm {

/// CUDA autocast of the forward passes (training.enable_mixed_precision on a CUDA device).
struct AutocastSettings {
  bool enabled = false;
  torch::ScalarType dtype = torch::kBFloat16;
};

/// The cross entropy of `batch` (forward under autocast); counts the accuracy.
torch::Tensor forward_loss(LanguageModel& model, const Batch& batch,
                           const AutocastSettings& autocast, SequenceAccuracy& accuracy);

/// zero_grad, forward, backward, gradient clipping (grad_clip > 0), the AdamW step, the schedule.
class TrainingStep {
 public:
  struct Result {
    torch::Tensor loss;  ///< detached
    double lr;           ///< the learning rate the step ran with
  };

  TrainingStep(LanguageModel& model, torch::optim::Optimizer& optimizer,
               LinearWarmupCosineAnnealing& scheduler, const std::vector<torch::Tensor>& parameters,
               double grad_clip, AutocastSettings autocast);

  Result run(const Batch& batch, SequenceAccuracy& accuracy);

 private:
  LanguageModel& model_;
  torch::optim::Optimizer& optimizer_;
  LinearWarmupCosineAnnealing& scheduler_;
  const std::vector<torch::Tensor>& parameters_;
  double grad_clip_;
  AutocastSettings autocast_;
};

}  // namespace xlstm
