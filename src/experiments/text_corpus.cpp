#include "xlstm/experiments/text_corpus.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "../config/check.h"
#include "../io/file_tree.h"
#include "xlstm/experiments/random.h"
#include "xlstm/generation/byte_tokenizer.h"
#include "xlstm/io/read_file.h"

namespace xlstm {
namespace experiments {
using namespace config_check;
namespace {

/// A file of the corpus: regular files only, each below 4 GiB.
std::string read_bytes(const std::string& path) {
  try {
    return io::read_regular_file(path, uint64_t{1} << 32);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("text dataset: ") + e.what());
  }
}

torch::Tensor to_tensor(const std::string& bytes) {
  auto tensor = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(tensor.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return tensor;
}

}  // namespace

void TextCorpusConfig::finalize() {
  require(!path.empty(), "path", "must name a text file or a directory");
  positive(context_length, "context_length");
  require(validation_fraction > 0.0 && validation_fraction <= 0.5, "validation_fraction",
          "must be in (0, 0.5], got " + std::to_string(validation_fraction));
  positive(block_size, "block_size");
  non_negative(validation_windows, "validation_windows");
}

TextCorpus::TextCorpus(TextCorpusConfig config) : config_(std::move(config)) {
  config_.finalize();
  const std::string& path = config_.path;
  struct stat info;
  if (::stat(path.c_str(), &info) != 0)
    throw std::runtime_error("text dataset: cannot read '" + path + "': " + std::strerror(errno));
  const std::vector<std::string> candidates =
      S_ISDIR(info.st_mode) ? io::regular_files(path) : std::vector<std::string>{path};
  std::string corpus;
  for (const auto& file : candidates) {
    const std::string bytes = read_bytes(file);
    if (bytes.empty() || bytes.find('\0') != std::string::npos) continue;  // empty or binary
    files_.push_back(file);
    corpus += bytes;
  }
  if (corpus.empty()) throw std::runtime_error("text dataset: no text in '" + path + "'");

  // Every period-th of `blocks` equal blocks is held out.
  const auto size = static_cast<int64_t>(corpus.size());
  const int64_t period = std::llround(1.0 / config_.validation_fraction);
  const int64_t blocks = std::max(period, (size + config_.block_size - 1) / config_.block_size);
  std::string train, validation;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * size / blocks, end = (b + 1) * size / blocks;
    (b % period == period - 1 ? validation : train).append(corpus, begin, end - begin);
  }
  const int64_t window = config_.context_length + 1;
  if (static_cast<int64_t>(std::min(train.size(), validation.size())) < window)
    throw std::runtime_error(
        "text dataset: '" + path + "' (" + std::to_string(size) + " bytes) splits into " +
        std::to_string(train.size()) + " training and " + std::to_string(validation.size()) +
        " validation bytes; each needs a window of context_length + 1 = " + std::to_string(window));
  train_ = to_tensor(train);
  validation_ = to_tensor(validation);
}

Batch TextCorpus::windows(const torch::Tensor& bytes, const torch::Tensor& starts) const {
  const int64_t length = config_.context_length;
  const auto index = starts.unsqueeze(1) + torch::arange(length + 1, torch::kLong);
  const auto tokens = bytes.take(index).to(torch::kLong);  // [B, length + 1]
  return {tokens.narrow(1, 0, length).contiguous(), tokens.narrow(1, 1, length).contiguous()};
}

Batch TextCorpus::train_batch(int64_t first, int64_t size) const {
  const uint64_t seed = derive_split_seed(static_cast<uint64_t>(config_.seed), "train");
  const auto positions = static_cast<uint64_t>(train_bytes() - config_.context_length);
  auto starts = torch::empty({size}, torch::kLong);
  int64_t* start = starts.data_ptr<int64_t>();
  for (int64_t i = 0; i < size; ++i)  // 64-bit draws: the modulo bias is below positions / 2^64
    start[i] = static_cast<int64_t>(derive_example_seed(seed, first + i) % positions);
  return windows(train_, starts);
}

std::vector<Batch> TextCorpus::validation_batches(int64_t batch_size) const {
  const int64_t length = config_.context_length;
  int64_t count = (validation_bytes() - 1) / length;
  if (config_.validation_windows > 0) count = std::min(count, config_.validation_windows);
  std::vector<Batch> batches;
  for (int64_t first = 0; first < count; first += batch_size) {
    const int64_t size = std::min(batch_size, count - first);
    batches.push_back(windows(validation_, torch::arange(first, first + size) * length));
  }
  return batches;
}

ExperimentData text_data(const TextCorpusConfig& config, int64_t batch_size) {
  const auto corpus = std::make_shared<const TextCorpus>(config);
  std::vector<ValidationSplit> validation = {
      {"validation", corpus->validation_batches(batch_size)}};
  return {TrainStream(
              [corpus](int64_t first, int64_t size) { return corpus->train_batch(first, size); }, 0,
              batch_size),
          std::move(validation), generation::ByteTokenizer::kVocabSize, config.context_length};
}

}  // namespace experiments
}  // namespace xlstm
