// The `text` dataset: reading a file or a directory, the held-out blocks, the training windows
// (random access, inputs and targets shifted by one, inside the training split), the consecutive
// validation windows, and the dataset table row behind `dataset.name: text`.
#include "xlstm/experiments/text_corpus.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "io/temp_dir.h"
#include "xlstm/config/yaml.h"
#include "xlstm/training/experiment_config.h"

namespace xlstm::experiments {
namespace {

using io::testing::TempDir;
using io::testing::write_bytes;

/// Text whose every 12-byte piece occurs once ("00000 00001 00002 ...").
std::string numbered_text(int64_t bytes) {
  std::string text;
  for (int i = 0; static_cast<int64_t>(text.size()) < bytes; ++i) {
    const std::string number = std::to_string(100000 + i).substr(1);
    text += number + (i % 10 == 9 ? "\n" : " ");
  }
  return text.substr(0, bytes);
}

std::string as_text(const torch::Tensor& ids) {
  std::string text;
  for (int64_t i = 0; i < ids.numel(); ++i) text += static_cast<char>(ids[i].item<int64_t>());
  return text;
}

TextCorpusConfig corpus_config(const std::string& path, int context_length = 16) {
  TextCorpusConfig config;
  config.path = path;
  config.context_length = context_length;
  config.validation_fraction = 0.1;
  config.block_size = 1000;
  return config;
}

TEST(TextCorpus, HoldsOutEveryNthBlock) {
  TempDir dir;
  const std::string text = numbered_text(10000);
  write_bytes(dir.file("corpus.txt"), text);
  const TextCorpus corpus(corpus_config(dir.file("corpus.txt")));
  // 10 blocks of 1000 bytes, the 10th held out.
  EXPECT_EQ(corpus.train_bytes(), 9000);
  EXPECT_EQ(corpus.validation_bytes(), 1000);
  const auto batches = corpus.validation_batches(8);
  int64_t windows = 0;
  for (const auto& batch : batches) {
    for (int64_t row = 0; row < batch.size(); ++row, ++windows) {
      // Consecutive windows from the start of the held-out block.
      EXPECT_EQ(as_text(batch.inputs[row]), text.substr(9000 + 16 * windows, 16));
      EXPECT_EQ(as_text(batch.targets[row]), text.substr(9001 + 16 * windows, 16));
    }
  }
  EXPECT_EQ(windows, (1000 - 1) / 16);
  EXPECT_EQ(batches.front().size(), 8);

  auto capped = corpus_config(dir.file("corpus.txt"));
  capped.validation_windows = 5;
  EXPECT_EQ(TextCorpus(capped).validation_batches(8).front().size(), 5);
}

TEST(TextCorpus, TrainingWindowsAreRandomAccessShiftedAndFromTheTrainingSplit) {
  TempDir dir;
  const std::string text = numbered_text(10000);
  write_bytes(dir.file("corpus.txt"), text);
  const TextCorpus corpus(corpus_config(dir.file("corpus.txt"), 24));
  const auto batch = corpus.train_batch(0, 64);
  ASSERT_EQ(batch.inputs.sizes(), (std::vector<int64_t>{64, 24}));
  EXPECT_EQ(batch.inputs.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(batch.inputs.narrow(1, 1, 23), batch.targets.narrow(1, 0, 23)));
  const std::string train = text.substr(0, 9000);
  std::set<size_t> starts;
  for (int64_t row = 0; row < 64; ++row) {
    const std::string window =
        as_text(batch.inputs[row]) + as_text(batch.targets[row].narrow(0, 23, 1));
    const size_t at = train.find(window);
    ASSERT_NE(at, std::string::npos) << "window " << row << " is not in the training split";
    starts.insert(at);
  }
  EXPECT_GT(starts.size(), 60u);  // random positions, not one
  const auto part = corpus.train_batch(5, 3);
  EXPECT_TRUE(torch::equal(part.inputs, batch.inputs.narrow(0, 5, 3)));
}

TEST(TextCorpus, ReadsTheTextFilesOfADirectoryInPathOrder) {
  TempDir dir, outside;
  std::filesystem::create_directories(dir.path() / "b");
  write_bytes(dir.file("b/second.txt"), numbered_text(3000));
  write_bytes(dir.file("a.txt"), numbered_text(2000));
  write_bytes(dir.file("index.dat"), std::string("\x00\x00\x01\x02", 4) + numbered_text(100));
  write_bytes(dir.file("empty.txt"), "");
  write_bytes(outside.file("linked.txt"), numbered_text(5000));
  ASSERT_EQ(::symlink(outside.file("linked.txt").c_str(), dir.file("link.txt").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir.file("pipe.txt").c_str(), 0600), 0);  // skipped, not read (no hang)
  const TextCorpus corpus(corpus_config(dir.path().string()));
  EXPECT_EQ(corpus.files(),
            (std::vector<std::string>{dir.file("a.txt"), dir.file("b/second.txt")}));
  EXPECT_EQ(corpus.train_bytes() + corpus.validation_bytes(), 5000);
}

TEST(TextCorpus, ErrorsNameThePath) {
  TempDir dir;
  write_bytes(dir.file("short.txt"), numbered_text(100));
  auto expect_error = [](const TextCorpusConfig& config, const std::string& part) {
    try {
      TextCorpus corpus(config);
      ADD_FAILURE() << config.path << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  // 100 bytes in 10 blocks: 10 held out, fewer than a window of 17.
  expect_error(corpus_config(dir.file("short.txt")), dir.file("short.txt") + "' (100 bytes)");
  expect_error(corpus_config(dir.file("missing.txt")), dir.file("missing.txt"));
  std::filesystem::create_directories(dir.path() / "nothing");
  expect_error(corpus_config(dir.file("nothing")), "no text in '" + dir.file("nothing"));
  // A device is refused by name, not read until memory runs out.
  expect_error(corpus_config("/dev/zero"), "'/dev/zero' is a character device, not a regular file");
}

TEST(TextDataset, ExperimentFilesNameItAndTheTableBuildsItsData) {
  TempDir dir;
  write_bytes(dir.file("corpus.txt"), numbered_text(20000));
  const std::string yaml =
      "training: {batch_size: 4, num_steps: 10, lr_warmup_steps: 1}\n"
      "model: {num_blocks: 1, embedding_dim: 16, mlstm_block: {mlstm: {num_heads: 2}},\n"
      "        context_length: 32, vocab_size: 259}\n"
      "dataset:\n  name: text\n  kwargs:\n    path: " +
      dir.file("corpus.txt") + "\n    context_length: 32\n    validation_windows: 10\n";
  const auto config = from_yaml_string<ExperimentConfig>(yaml, "text.yaml");
  EXPECT_EQ(config.dataset.kwargs_as<TextCorpusConfig>().context_length, 32);
  const auto data = make_experiment_data(config.dataset, config.training.batch_size);
  EXPECT_EQ(data.vocab_size, 259);
  EXPECT_EQ(data.max_sequence_length, 32);
  ASSERT_EQ(data.validation.size(), 1u);
  EXPECT_EQ(data.validation[0].name, "validation");
  EXPECT_EQ(data.validation[0].batches.size(), 3u);  // 10 windows in batches of 4

  try {
    from_yaml_string<ExperimentConfig>(yaml + "    validation_fraction: 0.7\n", "bad.yaml");
    FAIL() << "validation_fraction 0.7 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key_path(), "dataset.kwargs.validation_fraction") << e.what();
  }
}

}  // namespace
}  // namespace xlstm::experiments
