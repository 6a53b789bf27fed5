// The in-place step path: xLSTMLMModel::step_in_place equals step (fused CPU loops in float64 and
// float32, the ATen path in bfloat16), keeps every state tensor's storage, rejects a state that is
// not preallocated; the Stepper of generate() and StateRows::clone / copy.
#include "xlstm/generation/stepper.h"

#include <gtest/gtest.h>

#include "generation/tiny_lm.h"

namespace xlstm::generation {
namespace {

using testing::expect_states_near;
using testing::named_tensors;
using testing::tiny_lm;

/// A batch of `rows` prompts of `length` random ids.
torch::Tensor random_batch(int64_t rows, int64_t length) {
  return torch::randint(256, {rows, length}, torch::kLong);
}

/// The data pointer of every state tensor, block by block.
std::vector<const void*> storage_of(const xLSTMBlockStackState& state) {
  std::vector<const void*> pointers;
  for (const auto& block : state.blocks)
    for (const auto& [name, tensor] : named_tensors(block)) pointers.push_back(tensor.data_ptr());
  return pointers;
}

void expect_in_place_equals_step(torch::ScalarType dtype, double tolerance) {
  torch::manual_seed(3);
  auto model = tiny_lm(dtype);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto prompt = random_batch(3, 7), tokens = random_batch(3, 12);
  auto state = model->forward_with_state(prompt).second;
  const xLSTMBlockStackState in_place = StateRows<xLSTMBlockStackState>::clone(state);
  const auto storage = storage_of(in_place);
  for (int64_t t = 0; t < tokens.size(1); ++t) {
    const torch::Tensor ids = tokens.narrow(1, t, 1);
    torch::Tensor expected;
    std::tie(expected, state) = model->step(ids, state);
    const torch::Tensor got = model->step_in_place(ids, in_place);
    const std::string what = "step " + std::to_string(t);
    ASSERT_EQ(got.sizes(), expected.sizes()) << what;
    EXPECT_LE(test::max_rel_diff(got.to(torch::kFloat64), expected.to(torch::kFloat64)), tolerance)
        << what;
    expect_states_near(in_place, state, tolerance, what);
    EXPECT_EQ(storage_of(in_place), storage) << what << ": a state tensor was reallocated";
  }
}

TEST(StepInPlace, EqualsStepFloat64) {
  expect_in_place_equals_step(torch::kFloat64, 1e-12);
}

TEST(StepInPlace, EqualsStepFloat32) {
  expect_in_place_equals_step(torch::kFloat32, 1e-6);
}

TEST(StepInPlace, EqualsStepBFloat16AtenPath) {
  expect_in_place_equals_step(torch::kBFloat16, 1e-6);
}

TEST(StepInPlace, RejectsAStateNotPreallocated) {
  auto model = tiny_lm();
  torch::NoGradGuard no_grad;
  const auto ids = random_batch(2, 1);
  EXPECT_THROW(model->step_in_place(ids, {}), c10::Error);
  auto state = model->forward_with_state(ids).second;
  std::get<mLSTMState>(state.blocks[0]).C = torch::Tensor();
  try {
    model->step_in_place(ids, state);
    FAIL() << "an undefined C was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("mLSTMLayer::step_in_place"), std::string::npos)
        << e.what();
  }
}

TEST(StateRows, CloneIsContiguousAndCopyKeepsStorage) {
  auto model = tiny_lm();
  torch::NoGradGuard no_grad;
  const auto state = model->forward_with_state(random_batch(3, 5)).second;
  const auto clone = StateRows<xLSTMBlockStackState>::clone(state);
  expect_states_near(clone, state, 0.0, "clone");
  for (const auto& block : clone.blocks)
    for (const auto& [name, tensor] : named_tensors(block))
      EXPECT_TRUE(tensor.is_contiguous()) << name;
  const auto other = model->forward_with_state(random_batch(3, 5)).second;
  const auto storage = storage_of(clone);
  StateRows<xLSTMBlockStackState>::copy(clone, other);
  expect_states_near(clone, other, 0.0, "copy");
  EXPECT_EQ(storage_of(clone), storage);
}

TEST(Stepper, InPlaceOnCpuEqualsFunctionalSteps) {
  torch::manual_seed(5);
  auto model = tiny_lm();
  torch::NoGradGuard no_grad;
  auto [logits, state] = model->forward_with_state(random_batch(2, 6));
  Stepper<xLSTMLMModel> stepper(model, state, /*cuda_graph=*/true);  // no effect on the CPU
  EXPECT_EQ(stepper.mode(), StepMode::kInPlace);
  const auto storage = storage_of(stepper.state());
  for (int t = 0; t < 5; ++t) {
    const torch::Tensor ids = logits.select(1, logits.size(1) - 1).argmax(-1);
    std::tie(logits, state) = model->step(ids.unsqueeze(1), state);
    const torch::Tensor got = stepper.step(ids);
    EXPECT_LE(test::max_rel_diff(got, logits.select(1, 0)), 1e-12) << "step " << t;
  }
  expect_states_near(stepper.state(), state, 1e-12, "after 5 steps");
  EXPECT_EQ(storage_of(stepper.state()), storage);
}

}  // namespace
}  // namespace xlstm::generation
