#include "xlstm/training/experiment_data.h"

#include <algorithm>

namespace xlstm {

TrainStream::TrainStream(MakeBatch make, int64_t count, int64_t batch_size)
    : make_(std::move(make)), cursor_(count), batch_size_(batch_size) {
  TORCH_CHECK(batch_size > 0, "TrainStream: batch_size must be > 0, got ", batch_size);
}

Batch TrainStream::next() {
  return next_share(1, 0);
}

Batch TrainStream::next_share(int64_t parts, int64_t part) {
  const auto [first, size] = cursor_.advance(batch_size_);
  const auto share = share_of_batch(first, size, parts, part);
  return share.size > 0 ? make_(share.first, share.size) : Batch{};
}

void TrainStream::skip(int64_t batches) {
  for (int64_t i = 0; i < batches; ++i) cursor_.advance(batch_size_);
}

int64_t longest_sequence(const std::vector<ValidationSplit>& splits, int64_t at_least) {
  for (const auto& split : splits)
    for (const auto& batch : split.batches) at_least = std::max(at_least, batch.inputs.size(1));
  return at_least;
}

}  // namespace xlstm
