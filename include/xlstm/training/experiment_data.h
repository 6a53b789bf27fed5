// What the trainer trains on, from any source: a training stream and the fixed validation splits
// (the official FormLangDatasetGenerator's train_split / validation_split). An experiment file's
// `dataset` section gives one through the dataset table (make_experiment_data).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xlstm/training/batch.h"
#include "xlstm/training/experiment_config.h"

namespace xlstm {

/// The training batches in order. Examples are random access (`make(first, size)`), so the stream
/// position is one number: a checkpoint stores it and a resumed run skips to it without generating.
class TrainStream {
 public:
  using MakeBatch = std::function<Batch(int64_t first, int64_t size)>;
  /// `count` examples per epoch (0: endless), `batch_size` per batch (the last of an epoch
  /// smaller).
  TrainStream(MakeBatch make, int64_t count, int64_t batch_size);

  Batch next();
  /// Share `part` of `parts` of the next batch (share_of_batch); an empty Batch when the share has
  /// no example. The stream advances past the whole batch.
  Batch next_share(int64_t parts, int64_t part);
  /// Advances past `batches` batches without generating them.
  void skip(int64_t batches);
  /// First example of the next batch.
  int64_t position() const { return cursor_.position(); }
  int64_t batch_size() const { return batch_size_; }

 private:
  MakeBatch make_;
  ExampleCursor cursor_;
  int64_t batch_size_;
};

struct ValidationSplit {
  std::string name;  ///< "validation", or the subpar part / MQAR split ("validation_L64_kv4")
  std::vector<Batch> batches;
};

/// The data source of a run: any dataset (synthetic task, text) that gives these.
struct ExperimentData {
  TrainStream train;
  std::vector<ValidationSplit> validation;
  int64_t vocab_size;           ///< of the dataset (the model's must match)
  int64_t max_sequence_length;  ///< longest batch, training or validation
};

/// The longest sequence of the validation splits, at least `at_least` (the training batches').
int64_t longest_sequence(const std::vector<ValidationSplit>& splits, int64_t at_least);

/// The data of the dataset table's row `dataset.name` (its factory: see form_language and mqar in
/// xlstm/experiments/). Validation batches have `batch_size` examples, as the official
/// DataLoaders.
ExperimentData make_experiment_data(const DatasetConfig& dataset, int64_t batch_size);

}  // namespace xlstm
