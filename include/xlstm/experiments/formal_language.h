// Formal-language tasks of the official experiments (experiments/data/formal_language): parity,
// cycle_navigation, even_pairs, modular_arithmetic, generated on the fly from a seed. The layout
// (see docs/experiments.md) follows the official task functions, FormLangDataset and the default
// DataLoader collation; the random numbers come from our own engine (random.h), not numpy's. The
// `form_language` dataset of the experiment files: its kwargs (FormalLanguageConfig) and its data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xlstm/training/experiment_data.h"

namespace xlstm {
namespace experiments {

/// The number of sequences per split (Python: the `count` dict; every split is read, so the Python
/// default, which names only train and validation, fails for test; here each defaults to 1).
struct SplitCounts {
  int64_t train = 1;
  int64_t validation = 1;
  int64_t test = 1;
};

/// One `subpar` entry: overrides of the sequence lengths for one split part (e.g. `validation`).
struct SequenceLengthOverride {
  std::optional<int> min_sequence_length;
  std::optional<int> max_sequence_length;
};

/// Python `FormLangDatasetConfig` (experiments/data/formal_language/formal_language_dataset.py),
/// the `dataset.kwargs` of `name: form_language`: the task generator's arguments plus the dataset
/// options, defaults as the Python dataclass has them. A generator streams one split of it
/// (`split(part)`: the part's subpar applied, the lengths resolved, the split's own seed).
struct FormalLanguageConfig {
  std::string synth_lang_type =
      "parity";             ///< parity | cycle_navigation | even_pairs | modular_arithmetic
  int vocab_size = 3;       ///< token 0 is the pad, the task uses 1..vocab_size-1
  int context_length = 20;  ///< every example is this long before the shift
  std::optional<int> min_sequence_length;  ///< incl. the answer token; null: max_sequence_length
  std::optional<int> max_sequence_length;  ///< null: context_length
  int max_step_size = 1;                   ///< cycle_navigation only
  int batch_size = 1;                      ///< sequences per Python generator call
  int pad_idx = 0;                         ///< only 0 is supported
  int64_t seed = 42;  ///< the data set's seed; in a split, the seed of the split's stream
  SplitCounts count;
  /// Per split part (key starting with train / validation / test): sequence length overrides.
  std::optional<std::map<std::string, SequenceLengthOverride>> subpar;
  int shift = 1;             ///< inputs = seq[:-shift], targets = seq[shift:] (official default 1)
  bool enable_mask = false;  ///< input 0 at the answer, targets only there (else: LM targets)
  int additional_prefix_tokens = 0;  ///< these three: only 0 is supported
  int additional_suffix_tokens = 0;
  int additional_premask_tokens = 0;

  /// Checks the data set: validate() on the base split and on every subpar part, the counts.
  void finalize();
  /// What a generator needs of its split; throws xlstm::ConfigError naming the offending field.
  void validate() const;
  /// The split `part` ("train", "validation", a subpar part): the part's subpar lengths applied,
  /// both lengths resolved, seed derive_split_seed(seed, part), no subpar left.
  FormalLanguageConfig split(const std::string& part) const;
  /// min_sequence_length, else max_length().
  int min_length() const;
  /// max_sequence_length, else context_length.
  int max_length() const;
  /// Length of a batch: context_length - |shift|.
  int64_t batch_sequence_length() const;
};

/// One generated example before masking and shifting: `tokens` and `mask` have context_length
/// entries; the data occupies [0, size-1), the answer sits at size-1 (mask 1), zeros follow.
struct FormalLanguageExample {
  std::vector<int64_t> tokens;
  std::vector<uint8_t> mask;
  int64_t size = 0;  ///< sequence length including the answer token
};

/// The task function (official GEN_FUNCS[task] with batch_size 1) for one example seed.
FormalLanguageExample generate_formal_language_example(const FormalLanguageConfig& options,
                                                       uint64_t example_seed);

/// FormLangDataset.__getitem__ for each example (mask, shift) stacked into [B, S].
Batch collate_formal_language(const FormalLanguageConfig& options,
                              const std::vector<FormalLanguageExample>& examples);

/// A split as a stream of examples 0, 1, 2, ... (example i is a pure function of seed and i).
/// With `count` > 0 it behaves like the official DataLoader over a dataset of `count` examples
/// (no shuffling, last batch of an epoch smaller, then again from example 0); count 0 = endless.
class FormalLanguageGenerator {
 public:
  explicit FormalLanguageGenerator(FormalLanguageConfig options, int64_t count = 0);

  FormalLanguageExample example(int64_t index) const;
  /// Examples [first, first + batch_size), independent of the stream position.
  Batch batch(int64_t first, int64_t batch_size) const;
  /// The next batch of the stream.
  Batch next_batch(int64_t batch_size);

  int64_t position() const { return cursor_.position(); }
  int64_t count() const { return cursor_.count(); }
  const FormalLanguageConfig& options() const { return options_; }

 private:
  FormalLanguageConfig options_;
  ExampleCursor cursor_;
};

/// A fixed validation set: `count` examples of `options` in batches of `batch_size` (the last one
/// smaller when batch_size does not divide count), identical on every call.
std::vector<Batch> build_formal_language_validation_set(const FormalLanguageConfig& options,
                                                        int64_t count, int64_t batch_size);

/// The data of `name: form_language`: the `train` part (with its subpar, if any) streamed over
/// count.train examples; one validation split per subpar part starting with "validation" (else
/// "validation"), count.validation examples each, in batches of `batch_size`.
ExperimentData formal_language_data(const FormalLanguageConfig& config, int64_t batch_size);

}  // namespace experiments
}  // namespace xlstm
