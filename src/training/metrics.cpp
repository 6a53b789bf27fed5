#include "xlstm/training/metrics.h"

#include "xlstm/training/batch.h"

namespace xlstm {
namespace {

void check_shapes(const char* where, const torch::Tensor& logits, const torch::Tensor& targets) {
  TORCH_CHECK(logits.dim() >= 1 && logits.dim() == targets.dim() + 1 &&
                  logits.sizes().slice(0, targets.dim()) == targets.sizes(),
              where, ": logits ", logits.sizes(), " do not match targets ", targets.sizes(),
              " (expected logits [..., V] with targets [...])");
}

torch::Tensor cross_entropy(const char* where, const torch::Tensor& logits,
                            const torch::Tensor& targets,
                            torch::nn::functional::CrossEntropyFuncOptions::reduction_t reduction) {
  check_shapes(where, logits, targets);
  const int64_t vocab_size = logits.size(-1);
  auto flat = logits.reshape({-1, vocab_size});
  if (flat.scalar_type() == torch::kHalf || flat.scalar_type() == torch::kBFloat16) {
    flat = flat.to(torch::kFloat);
  }
  return torch::nn::functional::cross_entropy(flat, targets.reshape({-1}).to(torch::kLong),
                                              torch::nn::functional::CrossEntropyFuncOptions()
                                                  .ignore_index(kIgnoreIndex)
                                                  .reduction(reduction));
}

}  // namespace

torch::Tensor sequence_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return cross_entropy("sequence_cross_entropy", logits, targets, torch::kMean);
}

torch::Tensor sequence_cross_entropy_sum(const torch::Tensor& logits,
                                         const torch::Tensor& targets) {
  return cross_entropy("sequence_cross_entropy_sum", logits, targets, torch::kSum);
}

void SequenceAccuracy::update(const torch::Tensor& logits, const torch::Tensor& targets) {
  check_shapes("SequenceAccuracy::update", logits, targets);
  torch::NoGradGuard no_grad;
  const auto flat_targets = targets.reshape({-1}).to(logits.device(), torch::kLong);
  const auto predictions = logits.reshape({-1, logits.size(-1)}).argmax(-1);
  const auto counted = flat_targets.ne(kIgnoreIndex);
  const auto correct = predictions.eq(flat_targets).logical_and(counted).sum();
  const auto total = counted.sum();
  if (!correct_.defined()) {
    correct_ = correct;
    total_ = total;
  } else {
    correct_ = correct_ + correct;
    total_ = total_ + total;
  }
}

double SequenceAccuracy::compute() const {
  const int64_t n = total();
  return n == 0 ? 0.0 : static_cast<double>(correct()) / static_cast<double>(n);
}

void SequenceAccuracy::reset() {
  correct_ = torch::Tensor();
  total_ = torch::Tensor();
}

void SequenceAccuracy::merge(
    const std::function<void(const std::vector<torch::Tensor>&)>& sum_in_place,
    const torch::Device& device) {
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(device);
  correct_ = correct_.defined() ? correct_.to(device) : torch::zeros({}, options);
  total_ = total_.defined() ? total_.to(device) : torch::zeros({}, options);
  sum_in_place({correct_, total_});
}

int64_t SequenceAccuracy::correct() const {
  return correct_.defined() ? correct_.item<int64_t>() : 0;
}

int64_t SequenceAccuracy::total() const {
  return total_.defined() ? total_.item<int64_t>() : 0;
}

}  // namespace xlstm
