// Batch rows of a model's recurrent state: generation prefills prompts in groups, then joins their
// states into one batch, and keeps each sequence's own state when it finishes. A model family
// whose state is another type specialises StateRows for it.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "xlstm/xlstm_block_stack.h"

namespace xlstm {
namespace generation {

/// Specialise with `static State select(const State&, const torch::Tensor& rows)` (the rows of
/// int64 `rows`, in that order) and `static State cat(const std::vector<State>&)` (the batches
/// one after another). Every state tensor has the batch on dim 0.
template <class State>
struct StateRows;

template <>
struct StateRows<xLSTMBlockStackState> {
  static xLSTMBlockStackState select(const xLSTMBlockStackState& state, const torch::Tensor& rows);
  static xLSTMBlockStackState cat(const std::vector<xLSTMBlockStackState>& states);
};

}  // namespace generation
}  // namespace xlstm
