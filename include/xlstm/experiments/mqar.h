// Multi-query associative recall (MQAR) as defined by the Zoology benchmark (Arora et al. 2023,
// `multiquery_ar` with num_passes 1): key-value pairs, then each key queried once at a gap drawn
// from a power law; the target at a query position is the value paired with that key. Layout in
// docs/experiments.md. The ignore value is kIgnoreIndex (-1), Zoology uses -100. The `mqar` dataset
// of the experiment files: its kwargs (MqarConfig) and its data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xlstm/training/experiment_data.h"

namespace xlstm {
namespace experiments {

/// One MQAR split: the sequence length and the number of key-value pairs (Zoology's segment).
struct MqarSplitConfig {
  int input_seq_len = 64;
  int num_kv_pairs = 4;
};

/// Examples per MQAR split: `train` 0 is an endless stream; `validation` per validation split.
struct MqarCounts {
  int64_t train = 0;
  int64_t validation = 1000;
};

/// The kwargs of `dataset.name: mqar`: training on one (input_seq_len, num_kv_pairs) split,
/// validation on the `validation` splits (null: Zoology's test segments, mqar_validation_splits).
/// A generator streams one split of it (`split`: its shape and its own seed).
struct MqarConfig {
  int vocab_size = 8192;   ///< keys from [1, vocab/2), values from [vocab/2, vocab)
  int input_seq_len = 64;  ///< even, < vocab_size, >= 4 * num_kv_pairs
  int num_kv_pairs = 4;
  double power_a = 0.01;  ///< gap g in [0, space) has weight (g+1)^(power_a-1); 1 is uniform
  bool random_non_queries = true;  ///< fill the non-key/value/query inputs with random tokens
  int64_t seed = 42;  ///< the data set's seed; in a split, the seed of the split's stream
  MqarCounts count;
  std::optional<std::vector<MqarSplitConfig>> validation;

  /// Checks the data set: validate() on the training split and on every validation split.
  void finalize();
  /// What a generator needs of its split (Zoology's asserts); throws xlstm::ConfigError naming the
  /// offending field.
  void validate() const;
  /// This data set's split of `shape`, seeded derive_split_seed(seed, prefix + its name()).
  MqarConfig split(const std::string& prefix, const MqarSplitConfig& shape) const;
  /// Number of possible query slots: (input_seq_len - 2 * num_kv_pairs) / 2.
  int64_t query_space() const;
  /// "L64_kv4": the split's name suffix.
  std::string name() const;
};

/// One example: inputs and targets of input_seq_len; `gaps[j]` is the slot of key j's query,
/// which sits at position 2*num_kv_pairs + 2*gaps[j].
struct MqarExample {
  std::vector<int64_t> inputs;
  std::vector<int64_t> targets;
  std::vector<int64_t> keys, values, gaps;
};

MqarExample generate_mqar_example(const MqarConfig& options, uint64_t example_seed);

/// A split as a stream of examples 0, 1, 2, ... (example i is a pure function of seed and i);
/// `count` > 0 wraps the stream like a DataLoader epoch (last batch smaller), 0 = endless.
class MqarGenerator {
 public:
  explicit MqarGenerator(MqarConfig options, int64_t count = 0);

  MqarExample example(int64_t index) const;
  /// Examples [first, first + batch_size) as int64 [B, input_seq_len] tensors.
  Batch batch(int64_t first, int64_t batch_size) const;
  Batch next_batch(int64_t batch_size);

  int64_t position() const { return cursor_.position(); }
  int64_t count() const { return cursor_.count(); }
  const MqarConfig& options() const { return options_; }

 private:
  MqarConfig options_;
  ExampleCursor cursor_;
};

/// Zoology's MQAR training segments (input_seq_len, num_kv_pairs): (64,4), (128,8), (256,16),
/// (256,32), (256,64); `seed` is the data set seed, each segment gets derive_split_seed(seed,
/// "train_" + name()).
std::vector<MqarConfig> mqar_train_splits(int64_t vocab_size, uint64_t seed);
/// Zoology's MQAR test segments: (64,4), (64,8), (64,16), (128,32), (256,64), (512,128),
/// (1024,256), seeded with derive_split_seed(seed, "validation_" + name()).
std::vector<MqarConfig> mqar_validation_splits(int64_t vocab_size, uint64_t seed);

/// A fixed validation set of one split: `count` examples in batches of `batch_size`.
std::vector<Batch> build_mqar_validation_set(const MqarConfig& options, int64_t count,
                                             int64_t batch_size);

/// The data of `name: mqar`: the kwargs' (input_seq_len, num_kv_pairs) split streamed over
/// count.train examples (0: endless); the listed validation splits (null: Zoology's), named
/// "validation_" + name(), count.validation examples each in batches of `batch_size`.
ExperimentData mqar_data(const MqarConfig& config, int64_t batch_size);

}  // namespace experiments
}  // namespace xlstm
