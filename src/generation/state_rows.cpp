#include "xlstm/generation/state_rows.h"

#include <functional>

namespace xlstm {
namespace generation {
namespace {

/// One tensor made from the same tensor of several states.
using Combine = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;

template <class State, class... Fields>
State combine_fields(const std::vector<const State*>& states, const Combine& combine,
                     Fields... fields) {
  State out;
  for (const auto field : {fields...}) {
    std::vector<torch::Tensor> parts;
    for (const State* state : states) parts.push_back(state->*field);
    // Undefined means "none" (the zero state, or no conv); all parts agree, as one model made them.
    out.*field = parts.front().defined() ? combine(parts) : torch::Tensor();
  }
  return out;
}

BlockState combine_blocks(const std::vector<const BlockState*>& blocks, const Combine& combine,
                          size_t block) {
  const size_t kind = blocks.front()->index();
  for (const BlockState* state : blocks)
    TORCH_CHECK(state->index() == kind, "StateRows: block ", block,
                " holds states of different kinds (zero, mLSTM, sLSTM) in the batches joined");
  if (std::holds_alternative<mLSTMState>(*blocks.front())) {
    std::vector<const mLSTMState*> states;
    for (const BlockState* state : blocks) states.push_back(&std::get<mLSTMState>(*state));
    return combine_fields(states, combine, &mLSTMState::C, &mLSTMState::n, &mLSTMState::m,
                          &mLSTMState::conv);
  }
  if (std::holds_alternative<sLSTMState>(*blocks.front())) {
    std::vector<const sLSTMState*> states;
    for (const BlockState* state : blocks) states.push_back(&std::get<sLSTMState>(*state));
    return combine_fields(states, combine, &sLSTMState::y, &sLSTMState::c, &sLSTMState::n,
                          &sLSTMState::m, &sLSTMState::conv);
  }
  return {};
}

xLSTMBlockStackState combine_stacks(const std::vector<xLSTMBlockStackState>& stacks,
                                    const Combine& combine) {
  TORCH_CHECK(!stacks.empty(), "StateRows: no states to join");
  const size_t num_blocks = stacks.front().blocks.size();
  for (const auto& stack : stacks)
    TORCH_CHECK(stack.blocks.size() == num_blocks, "StateRows: states of ", num_blocks, " and ",
                stack.blocks.size(), " blocks cannot be joined");
  xLSTMBlockStackState out;
  for (size_t block = 0; block < num_blocks; ++block) {
    std::vector<const BlockState*> blocks;
    for (const auto& stack : stacks) blocks.push_back(&stack.blocks[block]);
    out.blocks.push_back(combine_blocks(blocks, combine, block));
  }
  return out;
}

large::xLSTMLargeState combine_large(const std::vector<large::xLSTMLargeState>& states,
                                     const Combine& combine) {
  TORCH_CHECK(!states.empty(), "StateRows: no states to join");
  const size_t num_blocks = states.front().blocks.size();
  for (const auto& state : states)
    TORCH_CHECK(state.blocks.size() == num_blocks, "StateRows: states of ", num_blocks, " and ",
                state.blocks.size(), " blocks cannot be joined");
  large::xLSTMLargeState out;
  using Cell = large::mLSTMLayerState;
  for (size_t block = 0; block < num_blocks; ++block) {
    std::vector<const Cell*> cells;
    for (const auto& state : states) cells.push_back(&state.blocks[block]);
    out.blocks.push_back(combine_fields(cells, combine, &Cell::C, &Cell::n, &Cell::m));
  }
  return out;
}

// What select / cat / clone / copy do to each state tensor.
Combine rows_of(const torch::Tensor& rows) {
  return [rows](const std::vector<torch::Tensor>& parts) {
    return parts.front().index_select(0, rows.to(parts.front().device()));
  };
}
torch::Tensor concatenated(const std::vector<torch::Tensor>& parts) {
  return torch::cat(parts, 0);
}
torch::Tensor cloned(const std::vector<torch::Tensor>& parts) {
  return parts.front().clone(at::MemoryFormat::Contiguous);
}
torch::Tensor copied(const std::vector<torch::Tensor>& parts) {
  TORCH_CHECK(parts[0].sizes() == parts[1].sizes(), "StateRows::copy: a state tensor ",
              parts[1].sizes(), " cannot be copied into one of ", parts[0].sizes());
  return parts[0].copy_(parts[1]);
}

}  // namespace

xLSTMBlockStackState StateRows<xLSTMBlockStackState>::select(const xLSTMBlockStackState& state,
                                                             const torch::Tensor& rows) {
  return combine_stacks({state}, rows_of(rows));
}

xLSTMBlockStackState StateRows<xLSTMBlockStackState>::cat(
    const std::vector<xLSTMBlockStackState>& states) {
  return combine_stacks(states, concatenated);
}

xLSTMBlockStackState StateRows<xLSTMBlockStackState>::clone(const xLSTMBlockStackState& state) {
  return combine_stacks({state}, cloned);
}

void StateRows<xLSTMBlockStackState>::copy(const xLSTMBlockStackState& to,
                                           const xLSTMBlockStackState& from) {
  combine_stacks({to, from}, copied);
}

using LargeState = large::xLSTMLargeState;

LargeState StateRows<LargeState>::select(const LargeState& state, const torch::Tensor& rows) {
  return combine_large({state}, rows_of(rows));
}

LargeState StateRows<LargeState>::cat(const std::vector<LargeState>& states) {
  return combine_large(states, concatenated);
}

LargeState StateRows<LargeState>::clone(const LargeState& state) {
  return combine_large({state}, cloned);
}

void StateRows<LargeState>::copy(const LargeState& to, const LargeState& from) {
  combine_large({to, from}, copied);
}

}  // namespace generation
}  // namespace xlstm
