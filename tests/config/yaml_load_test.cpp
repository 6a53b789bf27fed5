// Loading the shipped configs and their derived values; the Python-compatible readings of YAML.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/yaml_tree.h"
#include "model_kinds.h"
#include "xlstm/experiments/formal_language.h"
#include "xlstm/training/experiment_config.h"

namespace xlstm {
namespace {

namespace fs = std::filesystem;

std::string reference_config(const std::string& name) {
  return std::string(XLSTM_TEST_DATA_DIR) + "/reference/" + name + "/config.yaml";
}

std::string shipped_config(const std::string& name) {
  return std::string(XLSTM_SOURCE_DIR) + "/configs/" + name;
}

struct Derived {
  std::string file;
  bool is_lm;
  std::string block_map;
  std::vector<int> slstm_at;
  int inner_embedding_dim;  // mLSTM _inner_embedding_dim, -1 without mlstm_block
  int ffn_proj_up_dim;      // sLSTM block feed-forward _proj_up_dim, -1 without one
  int slstm_hidden_size;    // -1 without slstm_block
};

class DerivedValuesOfFiles : public ::testing::TestWithParam<Derived> {};

TEST_P(DerivedValuesOfFiles, MatchPython) {
  const auto& expected = GetParam();
  const xLSTMBlockStackConfig cfg = expected.is_lm
                                        ? from_yaml_file<xLSTMLMModelConfig>(expected.file)
                                        : from_yaml_file<xLSTMBlockStackConfig>(expected.file);
  EXPECT_EQ(cfg._block_map, expected.block_map);
  EXPECT_EQ(cfg.slstm_at.indices, expected.slstm_at);
  EXPECT_FALSE(cfg.slstm_at.all);
  EXPECT_EQ(cfg.mlstm_block ? cfg.mlstm_block->mlstm._inner_embedding_dim : -1,
            expected.inner_embedding_dim);
  EXPECT_EQ(cfg.slstm_block && cfg.slstm_block->feedforward
                ? cfg.slstm_block->feedforward->_proj_up_dim
                : -1,
            expected.ffn_proj_up_dim);
  EXPECT_EQ(cfg.slstm_block ? cfg.slstm_block->slstm.hidden_size : -1, expected.slstm_hidden_size);
}

// ceil(proj_factor * embedding_dim / 64) * 64, as Python's _set_proj_up_dim computes it.
INSTANTIATE_TEST_SUITE_P(
    ReferenceAndReadme, DerivedValuesOfFiles,
    ::testing::Values(
        Derived{reference_config("mlstm_stack_small"), false, "0,0", {}, 64, -1, -1},
        Derived{reference_config("slstm_stack_small"), false, "1,1", {0, 1}, -1, 64, 32},
        Derived{reference_config("readme_stack"), false, "0,1,0,0,0,0,0", {1}, 256, 192, 128},
        Derived{reference_config("lm_parity_xlstm11"), true, "0,1", {1}, 128, 128, 64},
        Derived{reference_config("lm_tied"), true, "1,0,0", {0}, 128, 128, 48},
        Derived{shipped_config("readme_stack.yaml"), false, "0,1,0,0,0,0,0", {1}, 256, 192, 128},
        Derived{shipped_config("readme_lm.yaml"), true, "0,1,0,0,0,0,0", {1}, 256, 192, 128}));

TEST(YamlLoad, EveryShippedAndReferenceConfigLoads) {
  int loaded = 0;
  for (const auto& dir : {std::string(XLSTM_SOURCE_DIR) + "/configs",
                          std::string(XLSTM_TEST_DATA_DIR) + "/reference"}) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.path().extension() != ".yaml") continue;
      const std::string path = entry.path().string();
      SCOPED_TRACE(path);
      // Loaded (strictly, finalized) as the kind the binaries take it for.
      EXPECT_FALSE(apps::model_kind_for(path).resolve(path, {}).empty());
      ++loaded;
    }
  }
  EXPECT_EQ(loaded, 15);  // 10 in configs/, 5 reference cases
}

TEST(YamlLoad, BlockMapsMatchThePythonRunsOfTheReferenceCases) {
  int checked = 0;
  for (const auto& entry :
       fs::directory_iterator(std::string(XLSTM_TEST_DATA_DIR) + "/reference")) {
    if (!entry.is_directory()) continue;
    SCOPED_TRACE(entry.path().string());
    // meta.json is JSON, which is also YAML.
    const std::string meta_path = (entry.path() / "meta.json").string();
    std::ifstream meta_file(meta_path);
    const std::string meta_text((std::istreambuf_iterator<char>(meta_file)), {});
    const auto meta = yaml_detail::parse_yaml(meta_text, meta_path);
    const std::string config = (entry.path() / "config.yaml").string();
    const std::string block_map = meta.find("kind")->text == "lm_model"
                                      ? from_yaml_file<xLSTMLMModelConfig>(config)._block_map
                                      : from_yaml_file<xLSTMBlockStackConfig>(config)._block_map;
    EXPECT_EQ(block_map, meta.find("block_map")->text);
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(YamlLoad, ReadmeLmMatchesThePythonReadme) {
  const auto cfg = from_yaml_file<xLSTMLMModelConfig>(shipped_config("readme_lm.yaml"));
  EXPECT_EQ(cfg.vocab_size, 50304);
  EXPECT_EQ(cfg.slstm_block->slstm.backend, "cuda");
  EXPECT_EQ(cfg.slstm_block->slstm.bias_init, "powerlaw_blockdependent");
  EXPECT_EQ(cfg.mlstm_block->mlstm.context_length, 256);
  EXPECT_EQ(cfg.num_blocks, 7);
  EXPECT_DOUBLE_EQ(*cfg.slstm_block->feedforward->proj_factor, 1.3);
}

TEST(YamlLoad, ParityExperimentsResolveLikeOmegaConf) {
  const auto cfg = from_yaml_file<ExperimentConfig>(shipped_config("parity_xlstm11.yaml"));
  EXPECT_EQ(cfg.training.lr_decay_until_steps, 20000);  // ${.num_steps}
  EXPECT_EQ(cfg.model.context_length, 256);             // ${dataset.kwargs.context_length}
  EXPECT_EQ(cfg.model.vocab_size, 3);                   // ${dataset.kwargs.vocab_size}
  EXPECT_EQ(cfg.model._block_map, "0,1");
  EXPECT_EQ(cfg.training.device, "cuda");
  EXPECT_TRUE(cfg.training.enable_mixed_precision);
  EXPECT_DOUBLE_EQ(cfg.training.lr, 1e-3);
  const auto& kwargs = cfg.dataset.kwargs_as<experiments::FormalLanguageConfig>();
  EXPECT_EQ(kwargs.count.train, 5120000);
  EXPECT_EQ(kwargs.seed, 1);
  EXPECT_TRUE(kwargs.enable_mask);
  EXPECT_EQ(*kwargs.max_sequence_length, 40);
  ASSERT_TRUE(kwargs.subpar.has_value());
  EXPECT_EQ(*kwargs.subpar->at("test").min_sequence_length, 40);
  EXPECT_EQ(*kwargs.subpar->at("validation").max_sequence_length, 256);

  EXPECT_EQ(
      from_yaml_file<ExperimentConfig>(shipped_config("parity_xlstm01.yaml")).model._block_map,
      "1,1");
  const auto mlstm_only = from_yaml_file<ExperimentConfig>(shipped_config("parity_xlstm10.yaml"));
  EXPECT_EQ(mlstm_only.model._block_map, "0,0");
  EXPECT_FALSE(
      mlstm_only.dataset.kwargs_as<experiments::FormalLanguageConfig>().subpar->count("test"));
}

TEST(YamlLoad, DefaultsOfTheExperimentSections) {
  const auto cfg = from_yaml_string<ExperimentConfig>(
      "model: {mlstm_block: {}, context_length: 8, embedding_dim: 16, vocab_size: 5}\n");
  EXPECT_EQ(cfg.training.lr_decay_until_steps, cfg.training.num_steps);
  EXPECT_EQ(cfg.training.device, "cpu");
  EXPECT_EQ(cfg.dataset.name, "form_language");
  EXPECT_EQ(cfg.dataset.kwargs_as<experiments::FormalLanguageConfig>().context_length, 20);
  EXPECT_EQ(cfg.dataset.kwargs_as<experiments::FormalLanguageConfig>().vocab_size, 3);
  EXPECT_EQ(cfg.dataset.kwargs_as<experiments::FormalLanguageConfig>().max_step_size, 1);
  EXPECT_FALSE(cfg.dataset.kwargs_as<experiments::FormalLanguageConfig>().subpar.has_value());
}

TEST(YamlLoad, IntegersAreAcceptedForFloats) {
  const auto cfg = from_yaml_string<FeedForwardConfig>("proj_factor: 2\nembedding_dim: 96\n");
  EXPECT_EQ(*cfg.proj_factor, 2.0);
  EXPECT_EQ(cfg._proj_up_dim, 192);
}

TEST(YamlLoad, NullsAndSpecialValues) {
  const auto cfg = from_yaml_string<xLSTMBlockStackConfig>(
      "slstm_block:\n"
      "  slstm: {num_heads: 2, gradient_recurrent_clipval: null, dtype_b: ~, initial_val: [0, "
      "0.5]}\n"
      "  feedforward: null\n"
      "embedding_dim: 16\nnum_blocks: 3\nslstm_at: all\n");
  EXPECT_FALSE(cfg.slstm_block->feedforward.has_value());
  EXPECT_FALSE(cfg.slstm_block->slstm.gradient_recurrent_clipval.has_value());
  EXPECT_EQ(*cfg.slstm_block->slstm.dtype_b, "bfloat16");  // null: falls back to dtype
  EXPECT_EQ(cfg.slstm_block->slstm.initial_val, (std::vector<double>{0.0, 0.5}));
  EXPECT_EQ(cfg.slstm_at.indices, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(cfg._block_map, "1,1,1");
}

TEST(YamlLoad, ScalarsAreTypedLikePyYaml) {
  // Quoted numbers are strings, `1e-3` is a float (OmegaConf), `yes` a boolean (YAML 1.1).
  EXPECT_THROW(from_yaml_string<xLSTMBlockStackConfig>("mlstm_block: {}\nnum_blocks: '2'\n"),
               ConfigError);
  const auto cfg = from_yaml_string<TrainingConfig>("lr: 1e-3\nenable_mixed_precision: yes\n");
  EXPECT_DOUBLE_EQ(cfg.lr, 1e-3);
  EXPECT_TRUE(cfg.enable_mixed_precision);
  EXPECT_EQ(from_yaml_string<TrainingConfig>("num_steps: 1_000\nlr_warmup_steps: 10\n").num_steps,
            1000);
}

// An empty document is a section with every field at its default, written out here as numbers
// (the official experiments' training defaults), and lr_decay_until_steps resolved to num_steps.
TEST(YamlLoad, EmptyDocumentGivesTheDefaults) {
  const auto cfg = from_yaml_string<TrainingConfig>("");
  EXPECT_EQ(cfg.batch_size, 256);
  EXPECT_DOUBLE_EQ(cfg.lr, 1e-3);
  EXPECT_EQ(cfg.seed, 42);
  EXPECT_EQ(cfg.val_every_step, 200);
  EXPECT_EQ(cfg.lr_warmup_steps, 2000);
  EXPECT_EQ(cfg.num_steps, 20000);
  EXPECT_EQ(cfg.lr_decay_until_steps, 20000);
  EXPECT_DOUBLE_EQ(cfg.lr_decay_factor, 1e-3);
  EXPECT_DOUBLE_EQ(cfg.weight_decay, 0.1);
  EXPECT_EQ(cfg.amp_precision, "bfloat16");
  EXPECT_EQ(cfg.weight_precision, "float32");
  EXPECT_FALSE(cfg.enable_mixed_precision);
}

}  // namespace
}  // namespace xlstm
