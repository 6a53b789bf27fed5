// to_yaml then from_yaml gives the same struct, for every config struct, with non-default values.
#include <gtest/gtest.h>

#include "xlstm/experiments/formal_language.h"
#include "xlstm/experiments/mqar.h"
#include "xlstm/training/experiment_config.h"

namespace xlstm {
namespace {

/// Loads `yaml`, writes it, loads the output: both loads must write the same text (every field is
/// written, so equal text means equal structs), and the reloaded struct must pass `check`.
template <class Config, class Check>
void expect_round_trip(const std::string& yaml, Check check) {
  const auto first = from_yaml_string<Config>(yaml);
  check(first);
  const std::string text = to_yaml(first);
  SCOPED_TRACE(text);
  const auto second = from_yaml_string<Config>(text, "<round trip>");
  check(second);
  EXPECT_EQ(to_yaml(second), text);
}

TEST(YamlRoundTrip, CausalConv1d) {
  expect_round_trip<CausalConv1dConfig>(
      "feature_dim: 12\nkernel_size: 0\ncausal_conv_bias: false\n", [](const auto& c) {
        EXPECT_EQ(c.feature_dim, 12);
        EXPECT_EQ(c.kernel_size, 0);
        EXPECT_FALSE(c.causal_conv_bias);
      });
}

TEST(YamlRoundTrip, LinearHeadwiseExpand) {
  expect_round_trip<LinearHeadwiseExpandConfig>(
      "in_features: 8\nnum_heads: 4\nexpand_factor_up: 1.5\ntrainable_bias: false\n",
      [](const auto& c) {
        EXPECT_EQ(c._out_features, 12);
        EXPECT_DOUBLE_EQ(c.expand_factor_up, 1.5);
        EXPECT_FALSE(c.trainable_bias);
      });
}

TEST(YamlRoundTrip, FeedForward) {
  expect_round_trip<FeedForwardConfig>(
      "proj_factor: 1.1\nembedding_dim: 100\nact_fn: relu^2\ndropout: 0.1\n", [](const auto& c) {
        EXPECT_EQ(*c.proj_factor, 1.1);  // exact: floats are written with full precision
        EXPECT_EQ(c.dropout, 0.1);
        EXPECT_EQ(c.act_fn, "relu^2");
        EXPECT_EQ(c._proj_up_dim, 128);
      });
}

TEST(YamlRoundTrip, MlstmCellLayerBlock) {
  expect_round_trip<mLSTMCellConfig>("context_length: 8\nembedding_dim: 16\nnum_heads: 2\n",
                                     [](const auto& c) { EXPECT_EQ(c.num_heads, 2); });
  expect_round_trip<mLSTMLayerConfig>(
      "embedding_dim: 24\nproj_factor: 2.5\nround_proj_up_to_multiple_of: 4\nnum_heads: 2\n"
      "qkv_proj_blocksize: 2\nbias: true\n",
      [](const auto& c) {
        EXPECT_EQ(c._inner_embedding_dim, 60);
        EXPECT_TRUE(c.bias);
      });
  expect_round_trip<mLSTMLayerConfig>("embedding_dim: 32\nbackend: chunkwise\n",
                                      [](const auto& c) { EXPECT_EQ(*c.backend, "chunkwise"); });
  // Not a key of the official package: absent, it is not written (Python's strict loader would
  // refuse it).
  EXPECT_EQ(to_yaml(from_yaml_string<mLSTMLayerConfig>("embedding_dim: 32\n")).find("backend"),
            std::string::npos);
  expect_round_trip<mLSTMBlockConfig>("mlstm: {embedding_dim: 32}\n_num_blocks: 3\n",
                                      [](const auto& c) {
                                        EXPECT_EQ(c.mlstm._num_blocks, 3);
                                        EXPECT_FALSE(c._block_idx.has_value());
                                      });
}

TEST(YamlRoundTrip, SlstmCellLayerBlock) {
  expect_round_trip<sLSTMCellConfig>(
      "hidden_size: 16\nnum_heads: 0\ngradient_recurrent_clipval: 0.5\nconstants: {a: 1.5}\n"
      "initial_val: [0.25, -1]\ndtype_w: float32\n",
      [](const auto& c) {
        EXPECT_EQ(c.num_heads, 1);  // <= 0 becomes 1, as in Python
        EXPECT_EQ(*c.gradient_recurrent_clipval, 0.5);
        EXPECT_EQ(c.constants.at("a"), 1.5);
        EXPECT_EQ(c.initial_val, (std::vector<double>{0.25, -1.0}));
        EXPECT_EQ(*c.dtype_s, "float32");  // from dtype_w
        EXPECT_EQ(*c.dtype_g, "bfloat16");
      });
  expect_round_trip<sLSTMLayerConfig>("embedding_dim: 16\nnum_heads: 2\nbackend: vanilla\n",
                                      [](const auto& c) { EXPECT_EQ(c.hidden_size, 16); });
  expect_round_trip<sLSTMBlockConfig>(
      "slstm: {embedding_dim: 16, backend: vanilla}\nfeedforward: null\n_block_idx: 1\n"
      "_num_blocks: 2\n",
      [](const auto& c) {
        EXPECT_FALSE(c.feedforward.has_value());
        EXPECT_EQ(c.slstm._block_idx, 1);
      });
}

TEST(YamlRoundTrip, XlstmBlock) {
  expect_round_trip<xLSTMBlockConfig>(
      "slstm: {embedding_dim: 16}\nfeedforward: {proj_factor: 2}\n_num_blocks: 2\n_block_idx: 1\n",
      [](const auto& c) {
        EXPECT_FALSE(c.mlstm.has_value());
        EXPECT_EQ(c.feedforward->_proj_up_dim, 64);
        EXPECT_EQ(c.slstm->_block_idx, 1);
      });
}

TEST(YamlRoundTrip, BlockStackOmitsAnAbsentBlockKind) {
  expect_round_trip<xLSTMBlockStackConfig>(
      "slstm_block: {slstm: {num_heads: 2}}\nembedding_dim: 32\nnum_blocks: 2\ndropout: 0.25\n",
      [](const auto& c) {
        EXPECT_FALSE(c.mlstm_block.has_value());
        EXPECT_EQ(c.slstm_at.indices, (std::vector<int>{0, 1}));
        EXPECT_EQ(c.slstm_block->slstm.dropout, 0.25);
      });
  const std::string text =
      to_yaml(from_yaml_string<xLSTMBlockStackConfig>("slstm_block: {}\nembedding_dim: 32\n"));
  EXPECT_EQ(text.find("mlstm_block"), std::string::npos);
  EXPECT_NE(text.find("_block_map: \"1\""), std::string::npos);  // a string, not the integer 1
}

TEST(YamlRoundTrip, LmModel) {
  expect_round_trip<xLSTMLMModelConfig>(
      "mlstm_block: {}\nslstm_block: {feedforward: null}\nslstm_at: [2, 0]\nnum_blocks: 3\n"
      "context_length: 10\nembedding_dim: 16\nvocab_size: 11\ntie_weights: true\n",
      [](const auto& c) {
        EXPECT_EQ(c._block_map, "1,0,1");
        EXPECT_EQ(c.slstm_at.indices, (std::vector<int>{2, 0}));
        EXPECT_TRUE(c.tie_weights);
        EXPECT_FALSE(c.slstm_block->feedforward.has_value());
      });
}

TEST(YamlRoundTrip, Experiment) {
  expect_round_trip<ExperimentConfig>(
      "training: {lr: 3.0e-4, device: cpu, num_steps: 10, lr_warmup_steps: 2}\n"
      "model: {mlstm_block: {}, context_length: 16, embedding_dim: 8, vocab_size: 5}\n"
      "dataset:\n  name: form_language\n  kwargs:\n    synth_lang_type: even_pairs\n"
      "    context_length: 16\n    subpar: {validation_long: {max_sequence_length: 16}}\n",
      [](const ExperimentConfig& c) {
        EXPECT_EQ(c.training.lr, 3e-4);
        EXPECT_EQ(c.training.lr_decay_until_steps, 10);
        EXPECT_EQ(c.dataset.kwargs_as<experiments::FormalLanguageConfig>().synth_lang_type,
                  "even_pairs");
        EXPECT_EQ(*c.dataset.kwargs_as<experiments::FormalLanguageConfig>()
                       .subpar->at("validation_long")
                       .max_sequence_length,
                  16);
        EXPECT_FALSE(c.dataset.kwargs_as<experiments::FormalLanguageConfig>()
                         .subpar->at("validation_long")
                         .min_sequence_length);
      });
}

TEST(YamlRoundTrip, DatasetKwargsRegisteredOutsideConfig) {
  expect_round_trip<experiments::MqarConfig>(
      "vocab_size: 512\ninput_seq_len: 32\nnum_kv_pairs: 8\ncount: {train: 0, validation: 7}\n"
      "validation:\n  - {input_seq_len: 64, num_kv_pairs: 16}\n  - {input_seq_len: 16, "
      "num_kv_pairs: 2}\n",
      [](const experiments::MqarConfig& c) {
        EXPECT_EQ(c.vocab_size, 512);
        EXPECT_EQ(c.count.validation, 7);
        ASSERT_EQ(c.validation->size(), 2u);
        EXPECT_EQ((*c.validation)[1].num_kv_pairs, 2);
      });
  expect_round_trip<ExperimentConfig>(
      "model: {mlstm_block: {}, context_length: 64, embedding_dim: 8, vocab_size: 512}\n"
      "dataset: {name: mqar, kwargs: {vocab_size: 512, input_seq_len: 16, num_kv_pairs: 2}}\n",
      [](const ExperimentConfig& c) {
        EXPECT_EQ(c.dataset.name, "mqar");
        EXPECT_EQ(c.dataset.kwargs_as<experiments::MqarConfig>().input_seq_len, 16);
        EXPECT_THROW(c.dataset.kwargs_as<experiments::FormalLanguageConfig>(), ConfigError);
      });
}

TEST(YamlRoundTrip, ALiteralInterpolationMarkerIsEscaped) {
  auto stack = from_yaml_string<xLSTMBlockStackConfig>("mlstm_block: {}\ncontext_length: 4\n");
  stack._block_map = "${x}";
  const std::string text = to_yaml(stack);
  EXPECT_NE(text.find("_block_map: \\${x}"), std::string::npos) << text;
  EXPECT_EQ(from_yaml_string<xLSTMBlockStackConfig>(text)._block_map, "0");  // recomputed
}

}  // namespace
}  // namespace xlstm
