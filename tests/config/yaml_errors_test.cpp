// Bad inputs: each must fail with a ConfigError naming the key path and the line of the offending
// node.
#include <gtest/gtest.h>

#include "xlstm/training/experiment_config.h"

namespace xlstm {
namespace {

struct BadInput {
  const char* name;
  const char* yaml;
  const char* key_path;
  int line;
  const char* message_part;
};

template <class Config>
void expect_config_error(const BadInput& bad) {
  try {
    from_yaml_string<Config>(bad.yaml, "bad.yaml");
    ADD_FAILURE() << bad.name << ": no error for\n" << bad.yaml;
  } catch (const ConfigError& e) {
    const std::string where = "bad.yaml:" + std::to_string(bad.line);
    EXPECT_EQ(e.key_path(), bad.key_path) << e.what();
    EXPECT_EQ(e.location(), where) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find(where + ": "), std::string::npos) << what;
    EXPECT_NE(what.find(bad.key_path), std::string::npos) << what;
    EXPECT_NE(what.find(bad.message_part), std::string::npos) << what;
  }
}

// A valid LM config to break: line numbers below refer to it.
#define LM_HEAD                     \
  "mlstm_block:\n"         /* 1 */  \
  "  mlstm:\n"             /* 2 */  \
  "    num_heads: 2\n"     /* 3 */  \
  "slstm_block:\n"         /* 4 */  \
  "  slstm:\n"             /* 5 */  \
  "    num_heads: 2\n"     /* 6 */  \
  "    backend: vanilla\n" /* 7 */  \
  "  feedforward:\n"       /* 8 */  \
  "    act_fn: gelu\n"     /* 9 */  \
  "context_length: 16\n"   /* 10 */ \
  "embedding_dim: 32\n"    /* 11 */ \
  "num_blocks: 3\n"        /* 12 */ \
  "vocab_size: 7\n"        /* 13 */

const BadInput kBadModels[] = {
    {"unknown top-level key", LM_HEAD "slstm_att: [1]\n", "slstm_att", 14, "unknown key"},
    {"unknown nested key",
     "mlstm_block:\n  mlstm:\n    num_head: 4\ncontext_length: 8\nvocab_size: 3\n",
     "mlstm_block.mlstm.num_head", 3, "unknown key"},
    {"string for an int", "vocab_size: 3\nslstm_block: {}\nembedding_dim: 8\nnum_blocks: three\n",
     "num_blocks", 4, "expected an integer"},
    {"float with a fraction for an int",
     "mlstm_block:\n  mlstm:\n    num_heads: 2.5\ncontext_length: 8\nvocab_size: 3\n",
     "mlstm_block.mlstm.num_heads", 3, "got a float"},
    {"list for a mapping", "vocab_size: 3\nslstm_block: [1, 2]\n", "slstm_block", 2,
     "expected a mapping"},
    {"mapping for a scalar", "vocab_size: 3\nslstm_block: {}\nembedding_dim:\n  a: 1\n",
     "embedding_dim", 3, "expected an integer, got a mapping"},
    {"boolean for an int", "vocab_size: true\nslstm_block: {}\n", "vocab_size", 1, "got a boolean"},
    {"string for a boolean", "vocab_size: 3\nslstm_block: {}\ntie_weights: maybe\n", "tie_weights",
     3, "expected a boolean"},
    {"non-integer block index", LM_HEAD "slstm_at:\n  - 0\n  - one\n", "slstm_at[1]", 16,
     "expected an integer"},
    {"block index out of range", LM_HEAD "slstm_at: [0,\n  3]\n", "slstm_at[1]", 15,
     "outside 0..2"},
    {"negative block index", LM_HEAD "slstm_at: [-1]\n", "slstm_at[0]", 14, "outside"},
    {"slstm_at neither a list nor all", LM_HEAD "slstm_at: some\n", "slstm_at", 14, "'all'"},
    {"unknown key after a valid one", LM_HEAD "slstm_at: [1]\nembedding_dimx: 1\n",
     "embedding_dimx", 15, "unknown key"},
    {"unknown activation",
     "vocab_size: 3\nembedding_dim: 8\nslstm_block:\n  feedforward:\n"
     "    act_fn: tanh\n",
     "slstm_block.feedforward.act_fn", 5, "'tanh'"},
    {"dropout out of range", LM_HEAD "dropout: 1.5\n", "dropout", 14, "[0, 1)"},
    {"unknown sLSTM backend",
     "vocab_size: 3\nembedding_dim: 8\nslstm_block:\n  slstm:\n"
     "    backend: triton\n",
     "slstm_block.slstm.backend", 5, "'triton'"},
    {"unknown mLSTM backend",
     "mlstm_block:\n  mlstm:\n    backend: flash\ncontext_length: 8\nvocab_size: 3\n",
     "mlstm_block.mlstm.backend", 3, "'flash'; expected one of 'auto', 'parallel', 'chunkwise'"},
    {"integer out of range", "vocab_size: 3\nslstm_block: {}\nnum_blocks: 99999999999\n",
     "num_blocks", 3, "out of range"},
    {"duplicate key", LM_HEAD "num_blocks: 2\n", "num_blocks", 14, "duplicate key"},
    {"bad initial_val item",
     "vocab_size: 3\nembedding_dim: 8\nslstm_block:\n  slstm:\n"
     "    initial_val: [0, x]\n",
     "slstm_block.slstm.initial_val[1]", 5, "expected a number"},
    {"negative kernel size",
     "vocab_size: 3\nembedding_dim: 8\nslstm_block:\n  slstm:\n"
     "    conv1d_kernel_size: -1\n",
     "slstm_block.slstm.conv1d_kernel_size", 5, "must be >= 0"},
    {"bad dtype", "vocab_size: 3\nembedding_dim: 8\nslstm_block:\n  slstm:\n    dtype_r: fp8\n",
     "slstm_block.slstm.dtype_r", 5, "'fp8'"},
    {"missing interpolation target", LM_HEAD "dropout: ${training.dropout}\n", "dropout", 14,
     "${training.dropout}"},
    {"interpolation cycle", "vocab_size: ${num_blocks}\nnum_blocks: ${vocab_size}\n", "vocab_size",
     1, "cycle"},
    {"YAML syntax error", "vocab_size: 3\nslstm_block: {slstm: \n", "", 3, "YAML syntax error"},
};

TEST(YamlErrors, BadModelInputsNameKeyPathAndLine) {
  for (const auto& bad : kBadModels) {
    SCOPED_TRACE(bad.name);
    expect_config_error<xLSTMLMModelConfig>(bad);
  }
}

TEST(YamlErrors, FinalizeErrorsAreLocatedAtTheNearestNode) {
  // The value is in the file: its own line.
  expect_config_error<xLSTMLMModelConfig>(
      {"heads do not divide",
       "mlstm_block: {}\nslstm_block:\n  slstm:\n    num_heads: 3\n"
       "context_length: 8\nembedding_dim: 32\nvocab_size: 3\n",
       "slstm_block.slstm.num_heads", 4, "does not divide"});
  // The value is a default: the line of the nearest enclosing key that is written.
  expect_config_error<xLSTMLMModelConfig>(
      {"qkv blocksize",
       "vocab_size: 3\nembedding_dim: 30\ncontext_length: 4\nmlstm_block:\n"
       "  mlstm:\n    proj_factor: 1\n    round_proj_up_to_multiple_of: 6\n",
       "mlstm_block.mlstm.qkv_proj_blocksize", 5, "does not divide"});
  // Nothing on the path is written: the document's first line.
  expect_config_error<xLSTMLMModelConfig>(
      {"no vocab", "\n\nslstm_block: {}\n", "vocab_size", 3, "must be positive"});
}

const BadInput kBadExperiments[] = {
    {"unknown device", "training:\n  device: tpu\n", "training.device", 2, "'tpu'"},
    {"bad precision", "training:\n  amp_precision: fp16\n", "training.amp_precision", 2, "'fp16'"},
    {"unknown split in count", "dataset:\n  kwargs:\n    count: {train: 1, tset: 2}\n",
     "dataset.kwargs.count.tset", 3, "unknown key"},
    {"sub-part longer than the context",
     "dataset:\n  kwargs:\n    context_length: 64\n    subpar:\n      validation:\n"
     "        max_sequence_length: 128\n",
     "dataset.kwargs.subpar.validation.max_sequence_length", 6, "context_length = 64"},
    {"unknown dataset", "dataset:\n  name: mqar_v9\n  kwargs: {}\n", "dataset.name", 2,
     "unknown dataset"},
    {"unknown task", "dataset:\n  kwargs:\n    synth_lang_type: dyck\n",
     "dataset.kwargs.synth_lang_type", 3, "'dyck'"},
    {"warmup after decay", "training:\n  num_steps: 100\n  lr_warmup_steps: 200\n",
     "training.lr_decay_until_steps", 1, "lr_warmup_steps = 200"},
    {"relative interpolation target missing",
     "training:\n  num_steps: 10\n"
     "  lr_decay_until_steps: ${.num_step}\n",
     "training.lr_decay_until_steps", 3, "key 'num_step' not found"},
};

TEST(YamlErrors, BadExperimentInputsNameKeyPathAndLine) {
  for (const auto& bad : kBadExperiments) {
    SCOPED_TRACE(bad.name);
    expect_config_error<ExperimentConfig>(bad);
  }
}

TEST(YamlErrors, MissingFileIsAConfigError) {
  try {
    from_yaml_file<xLSTMBlockStackConfig>("/nonexistent/stack.yaml");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/stack.yaml"), std::string::npos);
  }
}

}  // namespace
}  // namespace xlstm
