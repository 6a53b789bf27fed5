// --set overrides and the data built from experiment files (official parity, MQAR).
#include <gtest/gtest.h>

#include <utility>

#include "io/temp_dir.h"
#include "training/trainer_support.h"
#include "xlstm/config/overrides.h"
#include "xlstm/experiments/formal_language.h"
#include "xlstm/experiments/mqar.h"
#include "xlstm/training/experiment_data.h"

namespace xlstm::experiments {
namespace {

using io::testing::TempDir;

std::string config_file(const TempDir& dir) {
  const auto path = dir.file("tiny.yaml");
  io::testing::write_bytes(path, testing::tiny_parity_yaml(10));
  return path;
}

const std::string kSource = XLSTM_SOURCE_DIR;

TEST(ConfigOverride, AppliesBeforeInterpolation) {
  const auto config = load_experiment_config(
      kSource + "/configs/parity_xlstm11.yaml",
      {ConfigOverride::parse("training.num_steps=300"),
       ConfigOverride::parse("training.lr_warmup_steps=30"),
       ConfigOverride::parse("training.lr=3e-3"), ConfigOverride::parse("model.embedding_dim=32"),
       ConfigOverride::parse("dataset.kwargs.context_length=64"),
       ConfigOverride::parse("dataset.kwargs.subpar.validation.max_sequence_length=64"),
       ConfigOverride::parse("dataset.kwargs.subpar.test.max_sequence_length=64")});
  EXPECT_EQ(config.training.num_steps, 300);
  EXPECT_EQ(config.training.lr_decay_until_steps, 300);  // ${.num_steps} follows
  EXPECT_DOUBLE_EQ(config.training.lr, 3e-3);
  EXPECT_EQ(config.model.embedding_dim, 32);
  EXPECT_EQ(config.model.context_length, 64);  // ${dataset.kwargs.context_length}
  EXPECT_EQ(
      config.dataset.kwargs_as<FormalLanguageConfig>().subpar->at("validation").max_sequence_length,
      64);
}

TEST(ConfigOverride, AddsMissingKeysAndTakesFlowValues) {
  TempDir dir;
  const auto config = load_experiment_config(
      config_file(dir),
      {ConfigOverride::parse("model.num_blocks=2"), ConfigOverride::parse("model.slstm_at=[0, 1]"),
       ConfigOverride::parse("model.slstm_block.feedforward.proj_factor=2")});
  EXPECT_EQ(config.model._block_map, "1,1");
  EXPECT_DOUBLE_EQ(config.model.slstm_block->feedforward->proj_factor.value(), 2.0);
}

void expect_override_error(const std::string& path, const std::string& assignment,
                           const std::string& key, const std::string& part) {
  try {
    load_experiment_config(path, {ConfigOverride::parse(assignment)});
    FAIL() << assignment << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key_path(), key) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(ConfigOverride, ErrorsNameTheKey) {
  TempDir dir;
  const auto path = config_file(dir);
  expect_override_error(path, "training.batch_sizee=3", "training.batch_sizee",
                        "--set training.batch_sizee=3: training.batch_sizee: unknown key");
  expect_override_error(path, "training.batch_size=abc", "training.batch_size",
                        "--set training.batch_size=abc");
  expect_override_error(path, "training.batch_size=2.5", "training.batch_size",
                        "expected an integer");
  expect_override_error(path, "training.num_steps=0", "training.num_steps", "must be positive");
  expect_override_error(path, "training.lr.x=1", "training.lr", "cannot set 'x' inside a float");
  expect_override_error(path, "model.slstm_at=[0", "model.slstm_at", "not valid YAML");
  EXPECT_THROW(ConfigOverride::parse("training.batch_size"), ConfigError);
  EXPECT_THROW(ConfigOverride::parse("training..lr=1"), ConfigError);
  EXPECT_THROW(ConfigOverride::parse("=1"), ConfigError);
}

TEST(ExperimentData, OfficialParityFileGivesTheLongValidationSplit) {
  const auto config = load_experiment_config(kSource + "/configs/parity_xlstm11.yaml");
  const auto data = make_experiment_data(config.dataset, 256);
  ASSERT_EQ(data.validation.size(), 1u);
  EXPECT_EQ(data.validation[0].name, "validation");
  ASSERT_EQ(data.validation[0].batches.size(), 32u);  // 8192 / 256
  // The one target of an example of size n sits at index n - 2: sizes 40..256.
  const auto positions =
      (data.validation[0].batches[0].targets != kIgnoreIndex).nonzero().select(1, 1);
  EXPECT_GE(positions.min().item<int64_t>(), 38);
  EXPECT_LE(positions.max().item<int64_t>(), 254);
  EXPECT_GT(positions.max().item<int64_t>(), 200);
  auto train = data.train;
  const auto batch = train.next();
  EXPECT_EQ(batch.inputs.sizes(), torch::IntArrayRef({256, 255}));
  const auto train_positions = (batch.targets != kIgnoreIndex).nonzero().select(1, 1);
  EXPECT_LE(train_positions.max().item<int64_t>(), 38);  // sizes 3..40
  EXPECT_EQ(train.position(), 256);
}

TEST(ExperimentData, MqarFileGivesItsSplits) {
  const auto config = load_experiment_config(kSource + "/configs/mqar_cpu.yaml");
  ASSERT_EQ(config.dataset.name, "mqar");
  const auto data = make_experiment_data(config.dataset, config.training.batch_size);
  const auto& kwargs = config.dataset.kwargs_as<MqarConfig>();
  ASSERT_TRUE(kwargs.validation);
  ASSERT_EQ(data.validation.size(), kwargs.validation->size());
  const auto& first = kwargs.validation->front();
  EXPECT_EQ(data.validation[0].name, "validation_L" + std::to_string(first.input_seq_len) + "_kv" +
                                         std::to_string(first.num_kv_pairs));
  EXPECT_EQ(data.validation[0].batches[0].inputs.size(1), first.input_seq_len);
  auto train = data.train;
  const auto batch = train.next();
  EXPECT_EQ(batch.inputs.sizes(),
            torch::IntArrayRef({config.training.batch_size, kwargs.input_seq_len}));
  // One query per key-value pair.
  EXPECT_EQ((batch.targets != kIgnoreIndex).sum().item<int64_t>(),
            config.training.batch_size * kwargs.num_kv_pairs);
}

TEST(ExperimentData, TheDatasetTableNamesTheDatasetsAndItsFirstIsTheDefault) {
  EXPECT_EQ(DatasetConfig::dataset_names(), (std::vector<std::string>{"form_language", "mqar", "text"}));
  DatasetConfig dataset;
  EXPECT_EQ(dataset.name, "form_language");
  EXPECT_EQ(dataset.kwargs_as<FormalLanguageConfig>().context_length, 20);
  dataset.name = "mqar";
  dataset.finalize();  // kwargs of another dataset's struct give way to the named one's defaults
  EXPECT_EQ(std::as_const(dataset).kwargs_as<MqarConfig>().vocab_size, 8192);
  dataset.name = "mqar_v9";
  EXPECT_THROW(make_experiment_data(dataset, 4), ConfigError);
}

TEST(ExperimentData, MqarKwargsAreChecked) {
  const std::string base =
      "training: {num_steps: 1, lr_warmup_steps: 0}\nmodel: {vocab_size: 64, context_length: 16, "
      "mlstm_block: {}}\n"
      "dataset:\n  name: mqar\n  kwargs:\n    vocab_size: 64\n";
  EXPECT_NO_THROW(from_yaml_string<ExperimentConfig>(base + "    input_seq_len: 16\n"));
  try {
    from_yaml_string<ExperimentConfig>(base +
                                       "    input_seq_len: 16\n    validation:\n"
                                       "      - {input_seq_len: 8, num_kv_pairs: 3}\n");
    FAIL() << "4 * num_kv_pairs > input_seq_len was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key_path(), "dataset.kwargs.validation[0].num_kv_pairs") << e.what();
  }
}

}  // namespace
}  // namespace xlstm::experiments
