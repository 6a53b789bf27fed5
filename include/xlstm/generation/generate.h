// Text generation over any recurrent language model with
//   model->last_logits_with_state(ids [B, S], state) -> (logits [B, 1, V] of the last position,
//                                                        state) and
//   model->step(ids [B, 1], state)                   -> (logits [B, 1, V], state),
// a torch module (holder) with config.vocab_size, whose state type has empty() (the zero state) and
// a StateRows specialisation (state_rows.h). xLSTMLMModel is one; another model family plugs in the
// same way.
//
// Prompts are prefilled with last_logits_with_state (the parallel / chunkwise form, never a step
// per prompt token, the head over the last position only), prompts of one length together; then the
// batch is stepped one token at a time. The returned state covers each prompt and all of its
// returned tokens, so passing it back with the next prompts continues every sequence (multi-turn).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "xlstm/generation/options.h"
#include "xlstm/generation/sampling.h"
#include "xlstm/generation/sequence_tracker.h"
#include "xlstm/generation/state_rows.h"
#include "xlstm/generation/stepper.h"

namespace xlstm {
namespace generation {

/// Puts a module in eval mode for its lifetime, then back in the mode it had.
template <class Model>
class EvalModeGuard {
 public:
  explicit EvalModeGuard(Model& model) : model_(model), was_training_(model->is_training()) {
    model_->eval();
  }
  ~EvalModeGuard() { model_->train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  Model& model_;
  bool was_training_;
};

/// Thrown by generate() when the logits a running sequence's next token would be drawn from hold
/// NaN or infinity (non-finite weights, an overflow in float16): no token is drawn from them.
class NonFiniteLogits : public std::runtime_error {
 public:
  NonFiniteLogits(int64_t sequence, int64_t index)
      : std::runtime_error("generate: the logits for new token " + std::to_string(index) +
                           " of sequence " + std::to_string(sequence) +
                           " hold NaN or infinity; no token was drawn from them"),
        sequence(sequence),
        index(index) {}
  int64_t sequence;  ///< index of the prompt
  int64_t index;     ///< of the new token (0: the logits after the prompt)
};

template <class State>
struct GenerationResult {
  std::vector<GeneratedSequence> sequences;  ///< one per prompt
  State state;  ///< batch row i: after prompt i and all of sequences[i].tokens
};

/// The logits after each prompt's last token [B, V] and the state after it (row i for prompt i),
/// continuing from `state` (rows as the prompts; empty: the zero state). Prompts of one length
/// run as one batch.
template <class Model>
std::pair<torch::Tensor, ModelState<Model>> prefill(
    Model& model, const std::vector<std::vector<int64_t>>& prompts,
    const ModelState<Model>& state = {}) {
  using State = ModelState<Model>;
  TORCH_CHECK(!prompts.empty(), "prefill: no prompts");
  const torch::Device device = model->parameters().front().device();
  const int64_t vocab_size = model->config.vocab_size;
  std::map<size_t, std::vector<int64_t>> rows_by_length;
  for (size_t i = 0; i < prompts.size(); ++i) {
    TORCH_CHECK(!prompts[i].empty(), "prefill: prompt ", i,
                " is empty (give at least one token, e.g. a <bos> token)");
    for (size_t position = 0; position < prompts[i].size(); ++position) {
      const int64_t id = prompts[i][position];
      TORCH_CHECK(id >= 0 && id < vocab_size, "prefill: prompt ", i, " has token id ", id,
                  " at position ", position, ", outside the vocabulary (size ", vocab_size, ")");
    }
    rows_by_length[prompts[i].size()].push_back(static_cast<int64_t>(i));
  }
  std::vector<torch::Tensor> logits;
  std::vector<State> states;
  std::vector<int64_t> order;  // the prompt of each row of the joined groups
  for (const auto& [length, rows] : rows_by_length) {
    auto ids = torch::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(length)},
                            torch::kLong);
    for (size_t r = 0; r < rows.size(); ++r)
      std::copy(prompts[rows[r]].begin(), prompts[rows[r]].end(),
                ids.data_ptr<int64_t>() + r * length);
    const auto row_index = torch::tensor(rows, torch::kLong);
    const State start = state.empty() ? State{} : StateRows<State>::select(state, row_index);
    auto [group_logits, group_state] = model->last_logits_with_state(ids.to(device), start);
    logits.push_back(group_logits.select(1, 0));
    states.push_back(std::move(group_state));
    order.insert(order.end(), rows.begin(), rows.end());
  }
  if (states.size() == 1) return {logits.front(), std::move(states.front())};
  std::vector<int64_t> position(order.size());  // where prompt i's row is in the joined groups
  for (size_t j = 0; j < order.size(); ++j) position[order[j]] = static_cast<int64_t>(j);
  const auto back = torch::tensor(position, torch::kLong);
  return {torch::cat(logits).index_select(0, back.to(device)),
          StateRows<State>::select(StateRows<State>::cat(states), back)};
}

/// Generates a continuation of every prompt (token ids), continuing from `state` when given (rows
/// as the prompts, e.g. a previous result's). Runs without autograd and in eval mode (the
/// module's mode is restored).
template <class Model>
GenerationResult<ModelState<Model>> generate(Model& model,
                                             const std::vector<std::vector<int64_t>>& prompts,
                                             const GenerationOptions& options,
                                             const ModelState<Model>& state = {}) {
  using State = ModelState<Model>;
  using Rows = StateRows<State>;
  SequenceTracker tracker(options, prompts.size());
  torch::NoGradGuard no_grad;
  EvalModeGuard<Model> eval_mode(model);
  auto [logits, prefilled] = prefill(model, prompts, state);
  TokenSampler sampler(options.sampling, logits.device(), options.seed, logits.size(-1), prompts);
  Stepper<Model> stepper(model, std::move(prefilled), options.cuda_graph);

  std::vector<State> ended_states(prompts.size());  // of sequences that ended before the others
  std::vector<bool> ended_early(prompts.size(), false);
  while (!tracker.all_finished()) {
    const torch::Tensor next = sampler.next(logits);
    // One copy to the host: the tokens, then whether each row's logits are finite.
    const torch::Tensor host =
        torch::cat({next, torch::isfinite(logits).all(-1).to(torch::kLong)}).cpu();
    const int64_t* tokens = host.data_ptr<int64_t>();
    const size_t batch = prompts.size();
    for (size_t row = 0; row < batch; ++row)
      if (tokens[batch + row] == 0 && tracker.running(row))
        throw NonFiniteLogits(static_cast<int64_t>(row), tracker.generated(row));
    const auto ended = tracker.record(std::vector<int64_t>(tokens, tokens + batch));
    // Every sequence takes its new token (finished ones too, unused), so the state covers it.
    logits = stepper.step(next);
    if (tracker.all_finished()) break;
    for (const size_t row : ended) {
      ended_states[row] = Rows::select(stepper.state(), torch::tensor({static_cast<int64_t>(row)}));
      ended_early[row] = true;
    }
  }

  GenerationResult<State> result{tracker.take_sequences(), stepper.take_state()};
  if (std::find(ended_early.begin(), ended_early.end(), true) == ended_early.end()) return result;
  for (size_t row = 0; row < prompts.size(); ++row)
    if (!ended_early[row])
      ended_states[row] = Rows::select(result.state, torch::tensor({static_cast<int64_t>(row)}));
  result.state = Rows::cat(ended_states);
  return result;
}

}  // namespace generation
}  // namespace xlstm
