// generate() on a tiny xLSTM LM: greedy equals argmax stepping, stop tokens and strings, prompts of
// unequal length equal each alone, seeds, the streaming callback, and continuing from the returned
// state (multi-turn).
#include "xlstm/generation/generate.h"

#include <algorithm>
#include <limits>

#include <gtest/gtest.h>

#include "generation/tiny_lm.h"

namespace xlstm::generation {
namespace {

using testing::expect_states_near;
using testing::greedy;
using testing::random_ids;
using testing::step_through;
using testing::tiny_lm;
using Prompts = std::vector<std::vector<int64_t>>;

torch::Tensor as_batch(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kLong).unsqueeze(0);
}

GenerationOptions sampled(int64_t max_new_tokens, uint64_t seed) {
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  options.seed = seed;
  options.sampling.temperature = 1.5;
  options.sampling.top_k = 100;
  options.sampling.top_p = 0.98;
  return options;
}

std::vector<int64_t> concat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Generate, GreedyEqualsArgmaxStepping) {
  torch::manual_seed(1);
  auto model = tiny_lm();
  const auto prompt = random_ids(9);
  const auto result = generate(model, {prompt}, greedy(24));

  torch::NoGradGuard no_grad;
  auto [logits, state] = step_through(model, as_batch(prompt));
  std::vector<int64_t> expected;
  for (int i = 0; i < 24; ++i) {
    expected.push_back(logits.argmax(-1).item<int64_t>());
    std::tie(logits, state) = step_through(model, as_batch({expected.back()}), state);
  }
  ASSERT_EQ(result.sequences.size(), 1u);
  EXPECT_EQ(result.sequences[0].tokens, expected);
  EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kLength);
  // The returned state covers the prompt and every returned token.
  expect_states_near(result.state, state, 1e-10, "state after generation");
}

TEST(Generate, StopsAtTheFirstStopToken) {
  torch::manual_seed(2);
  auto model = tiny_lm();
  const auto prompt = random_ids(6);
  const auto free_run = generate(model, {prompt}, greedy(30)).sequences[0].tokens;
  const int64_t stop = free_run[7];
  const auto first = std::find(free_run.begin(), free_run.end(), stop) - free_run.begin();

  auto options = greedy(30);
  options.stop_token_ids = {ByteTokenizer::kEos, stop};
  const auto result = generate(model, {prompt}, options);
  EXPECT_EQ(result.sequences[0].tokens,
            std::vector<int64_t>(free_run.begin(), free_run.begin() + first + 1));
  EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kStopToken);
}

TEST(Generate, StopsWhenTheTextContainsAStopString) {
  torch::manual_seed(3);
  auto model = tiny_lm();
  const ByteTokenizer tokenizer;
  const auto prompt = tokenizer.encode("Once upon a time");
  const auto free_run = generate(model, {prompt}, greedy(40)).sequences[0].tokens;
  const std::string text = tokenizer.decode(free_run);
  const std::string stop = text.substr(10, 3);  // spans three tokens
  const size_t end = text.find(stop) + stop.size();

  auto options = greedy(40);
  options.tokenizer = &tokenizer;
  options.stop_strings = {"\x01\x02\x03\x04 not in the text", stop};
  const auto result = generate(model, {prompt}, options);
  EXPECT_EQ(tokenizer.decode(result.sequences[0].tokens), text.substr(0, end));
  EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kStopString);

  options.tokenizer = nullptr;
  EXPECT_THROW(generate(model, {prompt}, options), std::invalid_argument);
}

TEST(Generate, UnequalPromptsEqualEachPromptAlone) {
  torch::manual_seed(4);
  auto model = tiny_lm();
  const Prompts prompts = {random_ids(3), random_ids(40), random_ids(11), random_ids(11)};
  auto options = greedy(15);
  options.sampling.repetition_penalty = 1.3;  // per-row memory of the seen tokens
  const auto alone_free = generate(model, {prompts[2]}, options).sequences[0].tokens;
  options.stop_token_ids = {alone_free[4]};  // row 2 ends early, the others (likely) later
  const size_t stop_at =
      std::find(alone_free.begin(), alone_free.end(), alone_free[4]) - alone_free.begin();
  const auto batch = generate(model, prompts, options);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto alone = generate(model, {prompts[i]}, options);
    EXPECT_EQ(batch.sequences[i].tokens, alone.sequences[0].tokens) << "prompt " << i;
    EXPECT_EQ(batch.sequences[i].finish_reason, alone.sequences[0].finish_reason) << "prompt " << i;
    expect_states_near(StateRows<xLSTMBlockStackState>::select(
                           batch.state, torch::tensor({static_cast<int64_t>(i)})),
                       alone.state, 1e-10, "prompt " + std::to_string(i));
  }
  EXPECT_EQ(batch.sequences[2].tokens.size(), stop_at + 1);
}

TEST(Generate, SameSeedSameTokensOtherSeedOtherTokens) {
  auto model = tiny_lm(torch::kFloat32);
  const Prompts prompts = {random_ids(7), random_ids(12)};
  const auto first = generate(model, prompts, sampled(30, 11));
  const auto again = generate(model, prompts, sampled(30, 11));
  const auto other = generate(model, prompts, sampled(30, 12));
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(first.sequences[i].tokens, again.sequences[i].tokens);
    EXPECT_NE(first.sequences[i].tokens, other.sequences[i].tokens);
  }
}

TEST(Generate, CallbackStreamsEveryTokenAndEndsEarly) {
  auto model = tiny_lm();
  const Prompts prompts = {random_ids(4), random_ids(9)};
  std::vector<std::vector<int64_t>> streamed(2);
  auto options = sampled(20, 5);
  options.on_token = [&](const TokenEvent& event) {
    EXPECT_EQ(event.index, static_cast<int64_t>(streamed[event.sequence].size()));
    streamed[event.sequence].push_back(event.token);
    return event.sequence == 0 && event.index == 3 ? GenerationControl::kStopSequence
                                                   : GenerationControl::kContinue;
  };
  const auto result = generate(model, prompts, options);
  EXPECT_EQ(result.sequences[0].tokens.size(), 4u);
  EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kCallback);
  EXPECT_EQ(result.sequences[1].tokens.size(), 20u);
  EXPECT_EQ(result.sequences[1].finish_reason, FinishReason::kLength);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(streamed[i], result.sequences[i].tokens);

  options.on_token = [](const TokenEvent& event) {
    return event.index == 2 ? GenerationControl::kStopAll : GenerationControl::kContinue;
  };
  for (const auto& sequence : generate(model, prompts, options).sequences) {
    EXPECT_EQ(sequence.tokens.size(), 3u);
    EXPECT_EQ(sequence.finish_reason, FinishReason::kCallback);
  }
}

TEST(Generate, ReturnedStateContinuesEverySequence) {
  torch::manual_seed(6);
  auto model = tiny_lm();
  const Prompts turn1 = {random_ids(5), random_ids(17)};
  const Prompts turn2 = {random_ids(8), random_ids(3)};
  auto options = greedy(12);
  const auto first = generate(model, turn1, options);
  const auto second = generate(model, turn2, options, first.state);
  for (size_t i = 0; i < turn1.size(); ++i) {
    const auto whole = concat(concat(turn1[i], first.sequences[i].tokens), turn2[i]);
    const auto at_once = generate(model, {whole}, options);
    EXPECT_EQ(second.sequences[i].tokens, at_once.sequences[0].tokens) << "sequence " << i;
  }
}

TEST(Generate, ZeroNewTokensReturnsThePrefillState) {
  auto model = tiny_lm();
  const Prompts prompts = {random_ids(6), random_ids(2)};
  const auto result = generate(model, prompts, greedy(0));
  ASSERT_EQ(result.sequences.size(), 2u);
  EXPECT_TRUE(result.sequences[0].tokens.empty());
  expect_states_near(result.state, prefill(model, prompts).second, 1e-12, "prefill state");
  EXPECT_THROW(generate(model, prompts, greedy(-1)), std::invalid_argument);
}

TEST(Generate, NonFiniteLogitsNameTheSequenceAndTheToken) {
  torch::manual_seed(5);
  auto model = tiny_lm();
  // Prompts where sequence 1's first greedy token b0 is in neither prompt nor among sequence 0's
  // first three tokens: a NaN embedding row for b0 leaves both prefills and all of sequence 0's
  // steps finite and poisons sequence 1's first step.
  Prompts prompts;
  int64_t b0 = -1;
  for (int attempt = 0; attempt < 100 && b0 < 0; ++attempt) {
    prompts = {random_ids(5), random_ids(7)};
    const auto clean = generate(model, prompts, greedy(4));
    const auto& a = clean.sequences[0].tokens;
    const int64_t b = clean.sequences[1].tokens[0];
    auto seen = concat(concat(prompts[0], prompts[1]), {a.begin(), a.begin() + 3});
    if (std::find(seen.begin(), seen.end(), b) == seen.end()) b0 = b;
  }
  ASSERT_GE(b0, 0) << "no suitable prompts in 100 attempts";
  {
    torch::NoGradGuard no_grad;
    model->token_embedding->weight[b0].fill_(std::numeric_limits<double>::quiet_NaN());
  }
  try {
    generate(model, prompts, greedy(4));
    FAIL() << "no NonFiniteLogits";
  } catch (const NonFiniteLogits& e) {
    EXPECT_EQ(e.sequence, 1);
    EXPECT_EQ(e.index, 1);
    EXPECT_STREQ(e.what(),
                 "generate: the logits for new token 1 of sequence 1 hold NaN or infinity; no "
                 "token was drawn from them");
  }
  // A sequence that has ended does not stop the others: with b0 a stop token, sequence 1 ends
  // with it and sequence 0 runs on.
  auto options = greedy(4);
  options.stop_token_ids = {b0};
  const auto result = generate(model, prompts, options);
  EXPECT_EQ(result.sequences[1].tokens, std::vector<int64_t>{b0});
  EXPECT_EQ(result.sequences[0].finish_reason, FinishReason::kLength);
}

TEST(Generate, RestoresTheTrainingMode) {
  auto model = tiny_lm();
  model->train();
  generate(model, {random_ids(3)}, greedy(2));
  EXPECT_TRUE(model->is_training());
  model->eval();
  generate(model, {random_ids(3)}, greedy(2));
  EXPECT_FALSE(model->is_training());
}

}  // namespace
}  // namespace xlstm::generation
