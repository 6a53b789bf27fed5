// The binaries' model-kind registry (examples/common/model_kinds.h).
#include <gtest/gtest.h>

#include <fstream>

#include "io/temp_dir.h"
#include "model_kinds.h"
#include "xlstm/config/error.h"

namespace xlstm::apps {
namespace {

std::string shipped_config(const std::string& name) {
  return std::string(XLSTM_SOURCE_DIR) + "/configs/" + name;
}

TEST(ModelKinds, AutoRecognisesEachShippedKind) {
  EXPECT_EQ(model_kind_for(shipped_config("parity_xlstm10.yaml")).name, "experiment");
  EXPECT_EQ(model_kind_for(shipped_config("readme_lm.yaml")).name, "lm");
  EXPECT_EQ(model_kind_for(shipped_config("readme_stack.yaml")).name, "stack");
  // An official xLSTM-Large config.yaml also has vocab_size, embedding_dim and num_blocks.
  const std::string large = std::string(XLSTM_TEST_DATA_DIR) + "/large/official_tiny/config.yaml";
  EXPECT_EQ(model_kind_for(large).name, "large");
  torch::NoGradGuard no_grad;
  auto model = build_model(large);
  EXPECT_TRUE(model->takes_tokens());
  EXPECT_EQ(model->input_size(), 512);
  const auto tokens = torch::tensor({{1, 2, 3, 4, 5}}, torch::kLong);
  EXPECT_TRUE(torch::allclose(model->step_sequence(tokens), model->forward(tokens), 1e-5, 1e-5));
}

TEST(ModelKinds, BuildsTheModelOfEachKind) {
  torch::NoGradGuard no_grad;
  auto stack = build_model(shipped_config("readme_stack.yaml"));
  EXPECT_FALSE(stack->takes_tokens());
  EXPECT_EQ(stack->forward(torch::zeros({1, 3, 128})).sizes(), (torch::IntArrayRef{1, 3, 128}));
  auto lm = build_model(shipped_config("parity_xlstm11.yaml"));
  EXPECT_TRUE(lm->takes_tokens());
  const auto tokens = torch::tensor({{1, 2, 1, 1}}, torch::kLong);
  const auto logits = lm->forward(tokens);
  EXPECT_EQ(logits.size(-1), 3);  // the parity vocabulary
  // The type-erased state path gives the parallel output back, in one piece or two.
  EXPECT_TRUE(torch::allclose(lm->step_sequence(tokens), logits, 1e-5, 1e-6));
  auto [head, state] = lm->forward_with_state(tokens.narrow(1, 0, 2));
  auto tail = lm->forward_with_state(tokens.narrow(1, 2, 2), state).first;
  EXPECT_TRUE(torch::allclose(torch::cat({head, tail}, 1), logits, 1e-5, 1e-6));
}

TEST(ModelKinds, ExplicitKindOverridesRecognition) {
  // An LM file read as a stack: its vocab_size is an unknown key of the stack config.
  try {
    build_model(shipped_config("readme_lm.yaml"), "stack");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab_size: unknown key"), std::string::npos) << e.what();
  }
}

TEST(ModelKinds, UnknownKindIsNamedWithTheKnownOnes) {
  try {
    model_kind_for(shipped_config("readme_lm.yaml"), "huge");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model kind 'huge' (known: auto, large, "
                                         "experiment, lm, stack"),
              std::string::npos)
        << e.what();
  }
}

TEST(ModelKinds, ARegisteredKindIsRecognisedAndChosenByName) {
  io::testing::TempDir dir;
  const std::string path = dir.file("tiny.yaml");
  std::ofstream(path) << "tiny_model_dim: 4\n";
  // Before registration the stack kind takes any file (and rejects the key).
  EXPECT_EQ(model_kind_for(path).name, "stack");
  register_model_kind({"tiny", "a test kind",
                       [](const std::vector<std::string>& keys) {
                         return !keys.empty() && keys.front() == "tiny_model_dim";
                       },
                       [](const std::string&, const std::vector<ConfigOverride>&) {
                         return std::string("tiny: resolved\n");
                       },
                       nullptr});
  // Registered after stack, which recognises every file: auto still finds stack first, the
  // explicit name finds the new kind.
  EXPECT_EQ(model_kind_for(path).name, "stack");
  EXPECT_EQ(model_kind_for(path, "tiny").resolve(path, {}), "tiny: resolved\n");
  const auto choices = model_kind_choices();
  EXPECT_EQ(choices.back(), "tiny");
  EXPECT_THROW(register_model_kind({"tiny", "again", nullptr, nullptr, nullptr}), ConfigError);
}

}  // namespace
}  // namespace xlstm::apps
