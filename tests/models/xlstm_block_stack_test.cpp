// xLSTMBlockStack: its three calling paths on a long sequence, and its state's detach().
#include "xlstm/xlstm_block_stack.h"

#include <gtest/gtest.h>

#include "support/small_models.h"
#include "support/tolerance.h"

namespace xlstm {
namespace {

/// An mLSTM and an sLSTM block of 16 dimensions (vanilla sLSTM backend), the weights perturbed so
/// that the zero-initialised ones matter; eval mode.
xLSTMBlockStack small_stack(int context_length) {
  torch::manual_seed(11);
  xLSTMBlockStack stack(testing::mlstm_slstm_config(context_length));
  torch::NoGradGuard no_grad;
  for (auto& p : stack->parameters()) p.add_(torch::randn_like(p), 0.05);
  stack->eval();
  return stack;
}

// S = 4096 on the CPU: the parallel forward (context_length 4096), the chunkwise forward_with_state
// and the step loop give the same output within float32 roundings; the step loop's final state
// equals forward_with_state's.
TEST(xLSTMBlockStack, LongSequenceParallelChunkwiseAndStepAgree) {
  const int64_t seq = 4096;
  auto stack = small_stack(seq);
  const auto x = torch::randn({1, seq, 16});
  torch::NoGradGuard no_grad;
  const auto parallel = stack->forward(x);
  const auto [chunkwise, final_state] = stack->forward_with_state(x);
  std::vector<torch::Tensor> steps;
  xLSTMBlockStackState state;
  for (int64_t t = 0; t < seq; ++t) {
    auto [y, next] = stack->step(x.narrow(1, t, 1), state);
    steps.push_back(y);
    state = std::move(next);
  }
  const auto stepped = torch::cat(steps, 1);
  // Three summation orders over 4096 positions: a few hundred float32 roundings of the output.
  EXPECT_TRUE(test::close_at_precision(chunkwise, parallel, torch::kFloat, 256));
  EXPECT_TRUE(test::close_at_precision(stepped, parallel, torch::kFloat, 256));
  const auto& m_chunk = std::get<mLSTMState>(final_state.blocks[0]);
  const auto& m_step = std::get<mLSTMState>(state.blocks[0]);
  EXPECT_TRUE(test::close_at_precision(m_step.C, m_chunk.C, torch::kFloat, 256));
  const auto& s_chunk = std::get<sLSTMState>(final_state.blocks[1]);
  const auto& s_step = std::get<sLSTMState>(state.blocks[1]);
  EXPECT_TRUE(test::close_at_precision(s_step.c, s_chunk.c, torch::kFloat, 256));
}

// detach() keeps every block's values and cuts them from the graph: a backward through a second
// piece no longer reaches the first piece's input.
TEST(xLSTMBlockStack, StateDetachCutsTheGraphAndKeepsTheValues) {
  auto stack = small_stack(32);
  const auto x = torch::randn({2, 12, 16}, torch::requires_grad());
  auto [head, state] = stack->forward_with_state(x.narrow(1, 0, 6));
  const auto detached = state.detach();
  ASSERT_EQ(detached.blocks.size(), 2u);
  const auto& m = std::get<mLSTMState>(state.blocks[0]);
  const auto& m_detached = std::get<mLSTMState>(detached.blocks[0]);
  ASSERT_TRUE(m.C.requires_grad());
  EXPECT_FALSE(m_detached.C.requires_grad());
  EXPECT_TRUE(torch::equal(m_detached.C, m.C));
  EXPECT_TRUE(torch::equal(m_detached.n, m.n));
  EXPECT_TRUE(torch::equal(m_detached.m, m.m));
  EXPECT_TRUE(torch::equal(m_detached.conv, m.conv));
  const auto& s = std::get<sLSTMState>(state.blocks[1]);
  const auto& s_detached = std::get<sLSTMState>(detached.blocks[1]);
  ASSERT_TRUE(s.c.requires_grad());
  for (const auto& [a, b] :
       {std::pair{s_detached.y, s.y}, std::pair{s_detached.c, s.c}, std::pair{s_detached.n, s.n},
        std::pair{s_detached.m, s.m}, std::pair{s_detached.conv, s.conv}}) {
    EXPECT_FALSE(a.requires_grad());
    EXPECT_TRUE(torch::equal(a, b));
  }
  // The same second piece from either state: equal outputs; only the attached one reaches x[:6].
  const auto tail = x.narrow(1, 6, 6);
  const auto from_detached = stack->forward_with_state(tail, detached).first;
  const auto from_attached = stack->forward_with_state(tail, state).first;
  EXPECT_TRUE(torch::equal(from_detached, from_attached));
  from_detached.sum().backward();
  EXPECT_EQ(x.grad().narrow(1, 0, 6).abs().max().item<double>(), 0.0);
  EXPECT_GT(x.grad().narrow(1, 6, 6).abs().max().item<double>(), 0.0);
  x.grad().zero_();
  from_attached.sum().backward();
  EXPECT_GT(x.grad().narrow(1, 0, 6).abs().max().item<double>(), 0.0);
}

}  // namespace
}  // namespace xlstm
