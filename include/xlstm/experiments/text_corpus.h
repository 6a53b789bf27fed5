// The `text` dataset of xlstm-train: any text file (or every text file below a directory) as a
// byte-level language-modelling corpus for the byte tokenizer (xlstm/generation/byte_tokenizer.h,
// vocabulary 259). Training examples are random windows of context_length bytes (inputs) and the
// same window shifted by one (targets); a held-out split, every n-th block of the corpus, gives
// the validation loss in nats per byte (/ ln 2 = bits per byte).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "xlstm/training/experiment_data.h"

namespace xlstm {
namespace experiments {

/// The kwargs of `dataset.name: text`.
struct TextCorpusConfig {
  /// A file, or a directory: every regular file below it (symbolic links not followed) without a
  /// NUL byte (binary files are skipped), in path order, concatenated. Read when the data is built.
  std::string path;
  int context_length = 256;
  /// Share held out for validation: the corpus is cut into equal blocks of at most block_size
  /// bytes (at least n of them) and every n-th block, n = round(1 / validation_fraction), is
  /// held out.
  double validation_fraction = 0.05;
  int64_t block_size = 65536;
  /// Validation windows (consecutive, non-overlapping) at most; 0: the whole held-out split.
  int64_t validation_windows = 0;
  int64_t seed = 42;

  void finalize();
};

class TextCorpus {
 public:
  /// Reads and splits the corpus; throws std::runtime_error naming the path when it has no text
  /// or a split is shorter than one window.
  explicit TextCorpus(TextCorpusConfig config);

  /// Training examples first .. first + size - 1, each a window at a position drawn from (seed,
  /// example index): the stream is random access.
  Batch train_batch(int64_t first, int64_t size) const;
  /// The held-out split as consecutive windows, in batches of `batch_size`.
  std::vector<Batch> validation_batches(int64_t batch_size) const;

  const std::vector<std::string>& files() const { return files_; }
  int64_t train_bytes() const { return train_.numel(); }
  int64_t validation_bytes() const { return validation_.numel(); }

 private:
  /// inputs / targets of the windows starting at `starts` in `bytes`.
  Batch windows(const torch::Tensor& bytes, const torch::Tensor& starts) const;

  TextCorpusConfig config_;
  std::vector<std::string> files_;
  torch::Tensor train_, validation_;  // uint8 bytes
};

/// The dataset table's factory for `text`: an endless stream of training windows and one
/// validation split ("validation").
ExperimentData text_data(const TextCorpusConfig& config, int64_t batch_size);

}  // namespace experiments
}  // namespace xlstm
