// A batch as the training loop consumes it (the official DataLoader yields `(inputs, labels)`),
// and the walk over a data set of examples in batches.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace xlstm {

/// Target value of positions that carry no loss (the official `target_pad_idx` / `ignore_index`).
constexpr int64_t kIgnoreIndex = -1;

struct Batch {
  torch::Tensor inputs;   ///< int64 [B, S] token ids
  torch::Tensor targets;  ///< int64 [B, S] token ids, kIgnoreIndex where no loss is taken

  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
  /// Both tensors moved to `device` (non_blocking copies from pinned memory overlap compute); an
  /// empty batch (no tensors) stays empty.
  Batch to(const torch::Device& device, bool non_blocking = false) const {
    if (!inputs.defined()) return *this;
    return {inputs.to(device, non_blocking), targets.to(device, non_blocking)};
  }
  /// Examples [first, first + count).
  Batch narrow(int64_t first, int64_t count) const {
    return {inputs.narrow(0, first, count), targets.narrow(0, first, count)};
  }
};

/// Examples [first, first + size).
struct ExampleRange {
  int64_t first = 0;
  int64_t size = 0;
};

/// Part `part` of the batch of examples [first, first + size) split into `parts` consecutive
/// parts, the first `size % parts` of them one example larger (a rank's share of a global batch,
/// a micro-batch of a rank's share).
inline ExampleRange share_of_batch(int64_t first, int64_t size, int64_t parts, int64_t part) {
  TORCH_CHECK(parts > 0 && part >= 0 && part < parts, "share_of_batch: part ", part, " of ",
              parts);
  const int64_t base = size / parts, extra = size % parts;
  return {first + part * base + std::min(part, extra), base + (part < extra ? 1 : 0)};
}

/// Walks a stream of examples 0, 1, 2, ... in batches. With `count` > 0 it walks a data set of
/// `count` examples like the official DataLoader (no shuffling, drop_last false): the last batch of
/// an epoch is smaller and the next epoch starts again at example 0. count 0 = endless stream.
class ExampleCursor {
 public:
  explicit ExampleCursor(int64_t count = 0) : count_(count) {
    TORCH_CHECK(count >= 0, "ExampleCursor: count must be >= 0, got ", count);
  }
  /// {first example, number of examples} of the next batch; advances past it.
  std::pair<int64_t, int64_t> advance(int64_t batch_size) {
    TORCH_CHECK(batch_size > 0, "ExampleCursor: batch_size must be > 0, got ", batch_size);
    const int64_t first = position_;
    const int64_t size = count_ > 0 ? std::min(batch_size, count_ - first) : batch_size;
    position_ = count_ > 0 && first + size == count_ ? 0 : first + size;
    return {first, size};
  }
  int64_t position() const { return position_; }
  int64_t count() const { return count_; }

 private:
  int64_t count_;
  int64_t position_ = 0;
};

/// A fixed validation set: `count` examples of `Generator(options, count)` in batches of
/// `batch_size` (the last batch may be smaller).
template <class Generator, class Options>
std::vector<Batch> build_validation_batches(const Options& options, int64_t count,
                                            int64_t batch_size) {
  TORCH_CHECK(count > 0 && batch_size > 0,
              "build_validation_batches: count and batch_size must be > 0, got ", count, " and ",
              batch_size);
  Generator generator(options, count);
  std::vector<Batch> batches;
  for (int64_t done = 0; done < count; done += batch_size) {
    batches.push_back(generator.next_batch(batch_size));
  }
  return batches;
}

}  // namespace xlstm
