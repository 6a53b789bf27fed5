// One optimizer step of the official loop, and the forward pass it shares with validation.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "xlstm/training/batch.h"
#include "xlstm/training/distributed.h"
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

/// How a step is spread over processes and micro-batches (docs/distributed.md).
struct DataParallelism {
  std::shared_ptr<Communicator> communicator;  ///< the ranks (a single process without a group)
  int accumulation_steps = 1;                  ///< micro-batches of this rank's share
  OptimizerStateSharding* sharding = nullptr;  ///< ZeRO-1; nullptr: every rank steps everything

  /// Whether a step is the plain one-batch step of a single process.
  bool plain() const { return !communicator->has_group() && accumulation_steps == 1; }
};

/// zero_grad, forward, backward, gradient clipping (grad_clip > 0), the AdamW step, the schedule.
/// Over several ranks or micro-batches each micro-batch's loss is its token-loss sum over the
/// global batch's target count, and the gradients are summed (GradientSync): the global mean.
class TrainingStep {
 public:
  struct Result {
    torch::Tensor loss;     ///< detached; this rank's part of the global batch's mean loss
    torch::Tensor targets;  ///< target positions of the global batch (int64, on the device)
    double lr;              ///< the learning rate the step ran with
  };

  TrainingStep(LanguageModel& model, torch::optim::AdamW& optimizer,
               LinearWarmupCosineAnnealing& scheduler, const std::vector<torch::Tensor>& parameters,
               double grad_clip, AutocastSettings autocast, DataParallelism parallelism);

  /// One step on this rank's share of the global batch (empty when the share has no example).
  Result run(const Batch& share, SequenceAccuracy& accuracy);

 private:
  /// Forward and backward of the micro-batches, the gradients summed over the ranks; the loss and
  /// the global batch's target count.
  std::pair<torch::Tensor, torch::Tensor> accumulate(const Batch& share,
                                                     SequenceAccuracy& accuracy);

  LanguageModel& model_;
  torch::optim::AdamW& optimizer_;
  LinearWarmupCosineAnnealing& scheduler_;
  const std::vector<torch::Tensor>& parameters_;
  double grad_clip_;
  AutocastSettings autocast_;
  DataParallelism parallelism_;
  GradientSync gradient_sync_;
};

}  // namespace xlstm
