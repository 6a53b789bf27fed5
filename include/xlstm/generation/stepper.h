// The per-token step of generate() over a whole batch: the model's step_in_place on a
// preallocated state when the model has one (the state is updated in place, never reallocated),
// captured once as a CUDA graph on a CUDA device and replayed per token; the functional step
// otherwise. The model's state type and StateRows come from generate.h / state_rows.h.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <torch/torch.h>

#include "xlstm/generation/state_rows.h"
#include "xlstm/generation/step_graph.h"

namespace xlstm {
namespace generation {

/// The recurrent state type of `Model`.
template <class Model>
using ModelState =
    std::decay_t<decltype(std::declval<Model&>()->step(std::declval<torch::Tensor>()).second)>;

/// Whether `model->step_in_place(ids, state)` exists (returning the logits [B, 1, V]).
template <class Model, class = void>
struct HasStepInPlace : std::false_type {};
template <class Model>
struct HasStepInPlace<
    Model, std::void_t<decltype(std::declval<Model&>()->step_in_place(
               std::declval<torch::Tensor>(), std::declval<const ModelState<Model>&>()))>>
    : std::true_type {};

/// How a Stepper steps.
enum class StepMode {
  kFunctional,  ///< model->step, a new state each token (the model has no step_in_place)
  kInPlace,     ///< model->step_in_place on the Stepper's preallocated state
  kCudaGraph,   ///< the in-place step captured as a CUDA graph, replayed per token
};

template <class Model>
class Stepper {
 public:
  using State = ModelState<Model>;

  /// `state`: every row's state after its prompt (defined, a batch of B); `cuda_graph`: capture the
  /// step as a CUDA graph at the first step when the model is on a CUDA device (where capture is
  /// impossible: the plain in-place step, said once on stderr with the reason).
  Stepper(Model& model, State state, bool cuda_graph)
      : model_(model), want_graph_(cuda_graph && HasStepInPlace<Model>::value) {
    if constexpr (HasStepInPlace<Model>::value) {
      state_ = StateRows<State>::clone(state);  // owned, contiguous: updated in place from now on
      mode_ = StepMode::kInPlace;
    } else {
      state_ = std::move(state);
    }
  }

  /// ids int64 [B] on the model's device -> logits [B, V], valid until the next step.
  torch::Tensor step(const torch::Tensor& ids) {
    const torch::Tensor column = ids.reshape({-1, 1});
    if constexpr (HasStepInPlace<Model>::value) {
      if (want_graph_ && ids.device().is_cuda()) {
        want_graph_ = false;
        capture(column);
      }
      if (graph_) {
        ids_.copy_(column);
        return graph_->replay();
      }
      return model_->step_in_place(column, state_).select(1, 0);
    } else {
      auto [logits, next] = model_->step(column, state_);
      state_ = std::move(next);
      return logits.select(1, 0);
    }
  }

  /// The state after every token stepped so far (the Stepper's own tensors when in place).
  const State& state() const { return state_; }
  State take_state() { return std::move(state_); }
  StepMode mode() const { return mode_; }

 private:
  void capture(const torch::Tensor& column) {
    ids_ = column.clone();
    const State before = StateRows<State>::clone(state_);  // the warm-up steps advance the state
    std::string why_not;
    graph_ = capture_cuda_graph([this] { return model_->step_in_place(ids_, state_).select(1, 0); },
                                column.device(), /*warmup=*/2, &why_not);
    StateRows<State>::copy(state_, before);
    if (graph_) {
      mode_ = StepMode::kCudaGraph;
    } else {
      note_once("CUDA graph step off, stepping without it: " + why_not);
    }
  }

  Model& model_;
  State state_;
  bool want_graph_;
  StepMode mode_ = StepMode::kFunctional;
  torch::Tensor ids_;  // the graph's input [B, 1]
  std::unique_ptr<CapturedStep> graph_;
};

}  // namespace generation
}  // namespace xlstm
