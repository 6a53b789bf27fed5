// Formal-language tasks of the official experiments (experiments/data/formal_language): parity,
// cycle_navigation, even_pairs, modular_arithmetic, generated on the fly from a seed. The layout
// (see docs/experiments.md) follows the official task functions, FormLangDataset and the default
// DataLoader collation; the random numbers come from our own engine (random.h), not numpy's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xlstm/experiments/batch.h"

namespace xlstm {
namespace experiments {

/// Options of one split (the official `dataset.kwargs` after applying the split's `subpar`).
struct FormalLanguageOptions {
  std::string task = "parity";      ///< parity | cycle_navigation | even_pairs | modular_arithmetic
  int64_t vocab_size = 3;           ///< token 0 is the pad, the task uses 1..vocab_size-1
  int64_t context_length = 256;     ///< every example is this long before the shift
  int64_t min_sequence_length = 3;  ///< length incl. the answer token, inclusive bounds
  int64_t max_sequence_length = 40;  ///< <= context_length
  bool enable_mask = true;  ///< input 0 at the answer, targets only there (else: plain LM targets)
  int64_t shift = 1;        ///< inputs = seq[:-shift], targets = seq[shift:] (official default 1)
  int64_t max_step_size = 1;  ///< cycle_navigation only
  uint64_t seed = 0;          ///< seed of this split's stream (see derive_split_seed)

  /// Throws xlstm::ConfigError naming the offending field.
  void validate() const;
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
FormalLanguageExample generate_formal_language_example(const FormalLanguageOptions& options,
                                                       uint64_t example_seed);

/// FormLangDataset.__getitem__ for each example (mask, shift) stacked into [B, S].
Batch collate_formal_language(const FormalLanguageOptions& options,
                              const std::vector<FormalLanguageExample>& examples);

/// A split as a stream of examples 0, 1, 2, ... (example i is a pure function of seed and i).
/// With `count` > 0 it behaves like the official DataLoader over a dataset of `count` examples
/// (no shuffling, last batch of an epoch smaller, then again from example 0); count 0 = endless.
class FormalLanguageGenerator {
 public:
  explicit FormalLanguageGenerator(FormalLanguageOptions options, int64_t count = 0);

  FormalLanguageExample example(int64_t index) const;
  /// Examples [first, first + batch_size), independent of the stream position.
  Batch batch(int64_t first, int64_t batch_size) const;
  /// The next batch of the stream.
  Batch next_batch(int64_t batch_size);

  int64_t position() const { return cursor_.position(); }
  int64_t count() const { return cursor_.count(); }
  const FormalLanguageOptions& options() const { return options_; }

 private:
  FormalLanguageOptions options_;
  ExampleCursor cursor_;
};

/// A fixed validation set: `count` examples of `options` in batches of `batch_size` (the last one
/// smaller when batch_size does not divide count), identical on every call.
std::vector<Batch> build_formal_language_validation_set(const FormalLanguageOptions& options,
                                                        int64_t count, int64_t batch_size);

}  // namespace experiments
}  // namespace xlstm
