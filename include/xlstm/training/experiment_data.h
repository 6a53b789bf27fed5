// The data of an experiment built from its `dataset` section: a training stream and the fixed
// validation splits (the official FormLangDatasetGenerator's train_split / validation_split).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xlstm/config/experiment.h"
#include "xlstm/experiments/batch.h"

namespace xlstm {
namespace experiments {

/// The training batches in order. Examples are random access (`make(first, size)`), so the stream
/// position is one number: a checkpoint stores it and a resumed run skips to it without generating.
class TrainStream {
 public:
  using MakeBatch = std::function<Batch(int64_t first, int64_t size)>;
  /// `count` examples per epoch (0: endless), `batch_size` per batch (the last of an epoch
  /// smaller).
  TrainStream(MakeBatch make, int64_t count, int64_t batch_size);

  Batch next();
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

struct ExperimentData {
  TrainStream train;
  std::vector<ValidationSplit> validation;
  int64_t vocab_size;           ///< of the dataset (the model's must match)
  int64_t max_sequence_length;  ///< longest batch, training or validation
};

/// form_language: the `train` part (with its subpar, if any) streamed over count.train examples;
/// one validation split per subpar part starting with "validation" (else "validation"),
/// count.validation examples each. mqar: the kwargs' (input_seq_len, num_kv_pairs) streamed over
/// count.train examples (0: endless); validation on the listed splits (null: Zoology's,
/// mqar_validation_splits), count.validation examples each. Split seeds: derive_split_seed(dataset
/// seed, split name). Validation batches have `batch_size` examples, as the official DataLoaders.
ExperimentData make_experiment_data(const DatasetConfig& dataset, int64_t batch_size);

}  // namespace experiments
}  // namespace xlstm
