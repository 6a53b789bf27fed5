// xLSTMLMModel and its layers with dropout in train mode, and weight_decay_on_embedding.
#include "xlstm/xlstm_lm_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "support/small_models.h"
#include "xlstm/blocks/mlstm/layer.h"
#include "xlstm/components/feedforward.h"

namespace xlstm {
namespace {

xLSTMLMModelConfig small_lm(double dropout) {
  auto config = testing::mlstm_slstm_config<xLSTMLMModelConfig>(12);
  config.vocab_size = 11;
  config.dropout = dropout;
  config.add_embedding_dropout = true;
  return config;
}

/// Where dropout is a layer's last operation, its train-mode output is the eval-mode output with
/// each element either zeroed or scaled by 1 / (1 - p); about a fraction p is zeroed.
void expect_inverted_dropout(const torch::Tensor& train, const torch::Tensor& eval, double p) {
  const auto zeroed = train.eq(0);
  const auto kept = train.masked_select(zeroed.logical_not());
  const auto expected = eval.masked_select(zeroed.logical_not()) / (1 - p);
  EXPECT_TRUE(torch::allclose(kept, expected, 1e-5, 1e-6));
  const double n = train.numel(), fraction = zeroed.sum().item<double>() / n;
  EXPECT_NEAR(fraction, p, 5 * std::sqrt(p * (1 - p) / n));  // 5 binomial standard errors
}

TEST(Dropout, MlstmLayerDropsItsOutputInTrainModeOnly) {
  torch::manual_seed(1);
  mLSTMLayerConfig config;
  config.embedding_dim = 16;
  config.num_heads = 2;
  config.context_length = 16;
  config.dropout = 0.3;
  mLSTMLayer layer(config);
  const auto x = torch::randn({4, 16, 16});
  layer->eval();
  const auto eval = layer(x).detach();
  layer->train();
  expect_inverted_dropout(layer(x).detach(), eval, 0.3);
}

TEST(Dropout, FeedForwardDropsItsOutputInTrainModeOnly) {
  torch::manual_seed(2);
  FeedForwardConfig config;
  config.embedding_dim = 32;
  config.dropout = 0.5;
  auto ffn = create_feedforward(config);
  const auto x = torch::randn({64, 32});
  ffn->eval();
  const auto eval = ffn->forward(x).detach();
  ffn->train();
  expect_inverted_dropout(ffn->forward(x).detach(), eval, 0.5);
}

// The whole LM model: in eval mode dropout is off (the same numbers as dropout 0 with the same
// weights); in train mode the output depends on the seed, and the same seed repeats it.
TEST(Dropout, LmModelInTrainMode) {
  torch::manual_seed(3);
  xLSTMLMModel with_dropout(small_lm(0.4));
  xLSTMLMModel without(small_lm(0.0));
  {
    torch::NoGradGuard no_grad;
    const auto source = with_dropout->named_parameters();
    for (auto& item : without->named_parameters()) item.value().copy_(source[item.key()]);
  }
  const auto tokens = torch::randint(0, 11, {2, 12});
  with_dropout->eval();
  without->eval();
  EXPECT_TRUE(torch::equal(with_dropout(tokens), without(tokens)));
  with_dropout->train();
  without->train();
  torch::manual_seed(5);
  const auto first = with_dropout(tokens);
  torch::manual_seed(5);
  EXPECT_TRUE(torch::equal(with_dropout(tokens), first));
  torch::manual_seed(6);
  const auto other = with_dropout(tokens);
  EXPECT_GT((other - first).abs().max().item<double>(), 1e-3);
  const auto reference = without(tokens);  // dropout 0: train mode changes nothing
  EXPECT_GT((first - reference).abs().max().item<double>(), 1e-3);
  without->eval();
  EXPECT_TRUE(torch::allclose(without(tokens), reference, 1e-6, 1e-6));
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Official _create_weight_decay_optim_groups: the token embedding decays only with
// weight_decay_on_embedding; the other groups do not change.
TEST(WeightDecayOnEmbedding, MovesOnlyTheEmbeddingIntoTheDecayGroup) {
  auto config = small_lm(0.0);
  xLSTMLMModel plain(config);
  config.weight_decay_on_embedding = true;
  xLSTMLMModel decayed(config);
  const auto off = plain->weight_decay_groups(), on = decayed->weight_decay_groups();
  EXPECT_TRUE(contains(off.no_weight_decay_names, "token_embedding.weight"));
  EXPECT_FALSE(contains(off.weight_decay_names, "token_embedding.weight"));
  EXPECT_TRUE(contains(on.weight_decay_names, "token_embedding.weight"));
  EXPECT_FALSE(contains(on.no_weight_decay_names, "token_embedding.weight"));
  EXPECT_EQ(on.weight_decay_names.size(), off.weight_decay_names.size() + 1);
  EXPECT_EQ(on.no_weight_decay_names.size() + 1, off.no_weight_decay_names.size());
  ASSERT_EQ(on.weight_decay.size(), on.weight_decay_names.size());
  const auto it = std::find(on.weight_decay_names.begin(), on.weight_decay_names.end(),
                            "token_embedding.weight");
  EXPECT_TRUE(on.weight_decay[it - on.weight_decay_names.begin()].is_same(
      decayed->token_embedding->weight));
}

}  // namespace
}  // namespace xlstm
