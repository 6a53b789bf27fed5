// Loss and accuracy of the official experiments (main.py, metrics.py): cross entropy over the
// positions whose target is not kIgnoreIndex, and SequenceAccuracy = torchmetrics' multiclass
// micro accuracy with ignore_index -1 on the flattened positions, accumulated over updates.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace xlstm {

/// Mean cross entropy of `logits` [..., V] against `targets` [...] over the positions with a target
/// (F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)); computed in float32
/// for half/bfloat16 logits, as autocast does. NaN when no position has a target, as in PyTorch.
torch::Tensor sequence_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

/// Accuracy of argmax(logits) over the positions with a target, accumulated over update() calls
/// until reset(). The counts stay on the logits' device: update() does not synchronise.
class SequenceAccuracy {
 public:
  void update(const torch::Tensor& logits, const torch::Tensor& targets);
  /// correct / total over all updates; 0 when nothing was counted (torchmetrics' convention).
  double compute() const;
  void reset();

  int64_t correct() const;
  int64_t total() const;

 private:
  torch::Tensor correct_, total_;  // int64 scalars, undefined before the first update
};

}  // namespace xlstm
