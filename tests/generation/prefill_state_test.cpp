// The prefill that generation relies on: forward_with_state over a prompt (parallel / chunkwise)
// ends in the state that stepping the prompt token by token reaches, in every block and every state
// tensor (mLSTM C, n, m and conv; sLSTM y, c, n, m and conv), and gives the same next logits.
#include <gtest/gtest.h>

#include "generation/tiny_lm.h"
#include "support/tensor_compare.h"
#include "xlstm/generation/generate.h"

namespace xlstm::generation {
namespace {

using testing::expect_states_near;
using testing::step_through;
using testing::tiny_lm;

struct Precision {
  torch::ScalarType dtype;
  double tolerance;
};

// Lengths: below the conv kernel (4), the context length (16), beyond it, beyond a chunk (64).
const std::vector<int64_t> kLengths = {1, 3, 16, 37, 70};
const std::vector<Precision> kPrecisions = {{torch::kFloat64, 1e-10}, {torch::kFloat32, 1e-4}};

TEST(Prefill, FinalStateEqualsSteppingEveryBlockAndTensor) {
  torch::NoGradGuard no_grad;
  for (const auto& precision : kPrecisions) {
    auto model = tiny_lm(precision.dtype);
    for (const int64_t length : kLengths) {
      const auto ids = torch::randint(256, {2, length}, torch::kLong);
      const auto [logits, state] = model->forward_with_state(ids);
      const auto [stepped_logits, stepped_state] = step_through(model, ids);
      const std::string what =
          std::string(c10::toString(precision.dtype)) + " length " + std::to_string(length);
      expect_states_near(state, stepped_state, precision.tolerance, what);
      EXPECT_LE(test::max_rel_diff(logits.select(1, length - 1), stepped_logits),
                precision.tolerance)
          << what;
    }
  }
}

TEST(Prefill, ContinuingFromAStateEqualsStepping) {
  torch::NoGradGuard no_grad;
  auto model = tiny_lm();
  const auto ids = torch::randint(256, {3, 50}, torch::kLong);
  const auto [head_logits, head_state] = model->forward_with_state(ids.narrow(1, 0, 21));
  const auto [logits, state] = model->forward_with_state(ids.narrow(1, 21, 29), head_state);
  const auto [stepped_logits, stepped_state] = step_through(model, ids);
  expect_states_near(state, stepped_state, 1e-10, "21 + 29 tokens");
  EXPECT_LE(test::max_rel_diff(logits.select(1, 28), stepped_logits), 1e-10);
  // The head over the last position only (what generate's prefill runs): the same.
  const auto [last, last_state] = model->last_logits_with_state(ids.narrow(1, 21, 29), head_state);
  EXPECT_EQ(last.sizes(), c10::IntArrayRef({3, 1, logits.size(2)}));
  EXPECT_LE(test::max_rel_diff(last.select(1, 0), logits.select(1, 28)), 1e-12);
  expect_states_near(last_state, state, 1e-12, "last logits only");
}

TEST(Prefill, LastLogitsNameBadIds) {
  torch::NoGradGuard no_grad;
  auto model = tiny_lm();
  const auto message = [&](const torch::Tensor& ids) {
    try {
      model->last_logits_with_state(ids);
    } catch (const c10::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(torch::zeros({2, 0}, torch::kLong)).find("S > 0, got [2, 0]"),
            std::string::npos);
  EXPECT_NE(message(torch::zeros({2, 3})).find("int64 token ids"), std::string::npos);
}

TEST(Prefill, PromptsOfUnequalLengthEqualEachAlone) {
  auto model = tiny_lm();
  const std::vector<std::vector<int64_t>> prompts = {
      testing::random_ids(5), testing::random_ids(30), testing::random_ids(5),
      testing::random_ids(1)};
  const auto [logits, state] = prefill(model, prompts);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{4, ByteTokenizer::kVocabSize}));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto [alone_logits, alone_state] = prefill(model, {prompts[i]});
    const auto row = torch::tensor({static_cast<int64_t>(i)});
    expect_states_near(StateRows<xLSTMBlockStackState>::select(state, row), alone_state, 1e-12,
                       "prompt " + std::to_string(i));
    EXPECT_LE(test::max_rel_diff(logits[i], alone_logits[0]), 1e-12) << "prompt " << i;
  }
}

TEST(Prefill, RejectsAnEmptyPrompt) {
  auto model = tiny_lm();
  try {
    prefill(model, {{1, 2}, {}});
    FAIL() << "an empty prompt was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("prompt 1 is empty"), std::string::npos) << e.what();
  }
}

TEST(Prefill, NamesATokenIdOutsideTheVocabulary) {
  auto model = tiny_lm();
  const int64_t vocab = model->config.vocab_size;
  for (const int64_t id : {vocab, int64_t{-1}}) {
    try {
      prefill(model, {{1, 2}, {3, id, 4}});
      FAIL() << "token id " << id << " was accepted";
    } catch (const c10::Error& e) {
      const std::string expected = "prefill: prompt 1 has token id " + std::to_string(id) +
                                   " at position 1, outside the vocabulary (size " +
                                   std::to_string(vocab) + ")";
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace xlstm::generation
