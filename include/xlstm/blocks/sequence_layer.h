// What the mLSTM and sLSTM layers share: one way to run a sequence from the zero state, to carry a
// state across calls, and to take a single step. Each layer writes one `run`; its `State` struct
// holds the recurrent tensors, undefined ones meaning the zero state.
#pragma once

#include <utility>

#include <torch/torch.h>

namespace xlstm {

/// How a layer runs a sequence.
enum class RunMode {
  kForward,      // the whole sequence from the zero state (the parallel form where there is one)
  kWithState,    // continuing a carried state; returns the state after the last position
  kStep,         // one position (S = 1) from a carried state
  kStepInPlace,  // kStep writing the next state into the carried state's tensors
};

template <class State>
class SequenceLayer : public torch::nn::Module {
 public:
  /// x [B, S, D] -> [B, S, D], from the zero state.
  torch::Tensor forward(const torch::Tensor& x) { return run(x, {}, RunMode::kForward).first; }
  /// x [B, S, D] continuing from `state` -> (y [B, S, D], the state after the last position).
  /// Running a sequence in pieces with the carried state equals one run.
  std::pair<torch::Tensor, State> forward_with_state(const torch::Tensor& x,
                                                     const State& state = {}) {
    return run(x, state, RunMode::kWithState);
  }
  /// One position x [B, 1, D] -> (y [B, 1, D], the new state).
  std::pair<torch::Tensor, State> step(const torch::Tensor& x, const State& state = {}) {
    return run(x, state, RunMode::kStep);
  }
  /// One position x [B, 1, D] -> y [B, 1, D], updating `state` in place: every tensor of it must
  /// be defined (a preallocated state; see each layer's State) and keeps its storage. The same
  /// numbers as step().
  torch::Tensor step_in_place(const torch::Tensor& x, const State& state) {
    return run(x, state, RunMode::kStepInPlace).first;
  }

 protected:
  virtual std::pair<torch::Tensor, State> run(const torch::Tensor& x, const State& state,
                                              RunMode mode) = 0;
};

}  // namespace xlstm
