// A tiny xLSTM LM for the generation tests: an mLSTM block then an sLSTM block (both with a causal
// conv, the sLSTM block with a feed-forward), the byte tokenizer's vocabulary, weights perturbed so
// that every parameter matters and the logits spread out (no near-ties for argmax).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/tensor_compare.h"
#include "xlstm/config/yaml.h"
#include "xlstm/generation/byte_tokenizer.h"
#include "xlstm/generation/options.h"
#include "xlstm/xlstm_lm_model.h"

namespace xlstm::generation::testing {

/// `slstm_backend`: "vanilla" or "cuda" (the cuda backend runs vanilla on the CPU).
inline xLSTMLMModel tiny_lm(torch::ScalarType dtype = torch::kFloat64, uint64_t seed = 0,
                            const std::string& slstm_backend = "vanilla") {
  const std::string yaml =
      "num_blocks: 2\nembedding_dim: 16\nslstm_at: [1]\ncontext_length: 16\nvocab_size: " +
      std::to_string(ByteTokenizer::kVocabSize) +
      "\nmlstm_block:\n  mlstm:\n    num_heads: 2\n    conv1d_kernel_size: 4\n"
      "slstm_block:\n  slstm:\n    num_heads: 2\n    conv1d_kernel_size: 4\n"
      "    backend: " +
      slstm_backend + "\n  feedforward:\n    proj_factor: 1.3\n";
  torch::manual_seed(seed);
  xLSTMLMModel model(from_yaml_string<xLSTMLMModelConfig>(yaml, "tiny_lm"));
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.add_(torch::randn_like(p), 0.1);
  model->lm_head_weight.normal_(0.0, 1.0);
  model->to(dtype);
  return model;
}

/// Greedy generation of `max_new_tokens` (with or without the CUDA graph on a CUDA device).
inline GenerationOptions greedy(int64_t max_new_tokens, bool cuda_graph = true) {
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  options.sampling.temperature = 0.0;
  options.cuda_graph = cuda_graph;
  return options;
}

/// Random token ids below `vocab` (not the special tokens).
inline std::vector<int64_t> random_ids(int64_t length, int64_t vocab = 256) {
  const auto ids = torch::randint(vocab, {length}, torch::kLong);
  return {ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length};
}

/// Every tensor of a block state, named ("mLSTM.C", "sLSTM.conv", ...).
inline std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const BlockState& state) {
  if (const auto* m = std::get_if<mLSTMState>(&state))
    return {{"mLSTM.C", m->C}, {"mLSTM.n", m->n}, {"mLSTM.m", m->m}, {"mLSTM.conv", m->conv}};
  if (const auto* s = std::get_if<sLSTMState>(&state))
    return {{"sLSTM.y", s->y},
            {"sLSTM.c", s->c},
            {"sLSTM.n", s->n},
            {"sLSTM.m", s->m},
            {"sLSTM.conv", s->conv}};
  return {};
}

/// Steps `ids` [B, S] one token at a time from `state`: (logits after the last token [B, V],
/// state).
inline std::pair<torch::Tensor, xLSTMBlockStackState> step_through(
    xLSTMLMModel& model, const torch::Tensor& ids, xLSTMBlockStackState state = {}) {
  torch::Tensor logits;
  for (int64_t t = 0; t < ids.size(1); ++t)
    std::tie(logits, state) = model->step(ids.narrow(1, t, 1), state);
  return {logits.select(1, 0), std::move(state)};
}

/// Every tensor of every block of `actual` within `tolerance` (relative) of `expected`.
inline void expect_states_near(const xLSTMBlockStackState& actual,
                               const xLSTMBlockStackState& expected, double tolerance,
                               const std::string& what) {
  ASSERT_EQ(actual.blocks.size(), expected.blocks.size()) << what;
  for (size_t block = 0; block < expected.blocks.size(); ++block) {
    ASSERT_EQ(actual.blocks[block].index(), expected.blocks[block].index())
        << what << ": block " << block << " holds another kind of state";
    const auto got = named_tensors(actual.blocks[block]);
    const auto want = named_tensors(expected.blocks[block]);
    ASSERT_FALSE(want.empty()) << what << ": block " << block << " has no state";
    for (size_t i = 0; i < want.size(); ++i) {
      const std::string name = what + ": block " + std::to_string(block) + " " + want[i].first;
      ASSERT_TRUE(got[i].second.defined() && want[i].second.defined()) << name;
      ASSERT_EQ(got[i].second.sizes(), want[i].second.sizes()) << name;
      EXPECT_LE(test::max_rel_diff(got[i].second, want[i].second), tolerance) << name;
    }
  }
}

}  // namespace xlstm::generation::testing
