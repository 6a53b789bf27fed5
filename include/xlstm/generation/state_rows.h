// Batch rows of a model's recurrent state: generation prefills prompts in groups, then joins their
// states into one batch, and keeps each sequence's own state when it finishes. A model family
// whose state is another type specialises StateRows for it.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "xlstm/xlstm_block_stack.h"
#include "xlstm/xlstm_large/model.h"

namespace xlstm {
namespace generation {

/// Specialise with `static State select(const State&, const torch::Tensor& rows)` (the rows of
/// int64 `rows`, in that order), `static State cat(const std::vector<State>&)` (the batches one
/// after another), `static State clone(const State&)` (every tensor copied into new contiguous
/// storage: a state to update in place) and `static void copy(const State& to, const State&
/// from)` (every tensor of `from` copied into `to`'s, which keep their storage). Every state
/// tensor has the batch on dim 0.
template <class State>
struct StateRows;

template <>
struct StateRows<xLSTMBlockStackState> {
  static xLSTMBlockStackState select(const xLSTMBlockStackState& state, const torch::Tensor& rows);
  static xLSTMBlockStackState cat(const std::vector<xLSTMBlockStackState>& states);
  static xLSTMBlockStackState clone(const xLSTMBlockStackState& state);
  static void copy(const xLSTMBlockStackState& to, const xLSTMBlockStackState& from);
};

template <>
struct StateRows<large::xLSTMLargeState> {
  static large::xLSTMLargeState select(const large::xLSTMLargeState& state,
                                       const torch::Tensor& rows);
  static large::xLSTMLargeState cat(const std::vector<large::xLSTMLargeState>& states);
  static large::xLSTMLargeState clone(const large::xLSTMLargeState& state);
  static void copy(const large::xLSTMLargeState& to, const large::xLSTMLargeState& from);
};

}  // namespace generation
}  // namespace xlstm
