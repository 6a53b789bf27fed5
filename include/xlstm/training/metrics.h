// Loss and accuracy of the official experiments (main.py, metrics.py): cross entropy over the
// positions whose target is not kIgnoreIndex, and SequenceAccuracy = torchmetrics' multiclass
// micro accuracy with ignore_index -1 on the flattened positions, accumulated over updates.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace xlstm {

/// Mean cross entropy of `logits` [..., V] against `targets` [...] over the positions with a target
/// (F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)); computed in float32
/// for half/bfloat16 logits, as autocast does. NaN when no position has a target, as in PyTorch.
torch::Tensor sequence_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);
/// The sum instead of the mean (0 when no position has a target): a share of a batch divides it
/// by the target count of the whole batch.
torch::Tensor sequence_cross_entropy_sum(const torch::Tensor& logits,
                                         const torch::Tensor& targets);

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
  /// Lets `sum_in_place` add other counts to this one's (e.g. all-reduce them over ranks): it gets
  /// the int64 scalars {correct, total} on `device` (zeros when nothing was counted).
  void merge(const std::function<void(const std::vector<torch::Tensor>&)>& sum_in_place,
             const torch::Device& device);

 private:
  torch::Tensor correct_, total_;  // int64 scalars, undefined before the first update
};

}  // namespace xlstm
