// OptimizerStateSharding: ZeRO-1 over torch::optim::AdamW without a second optimizer class. AdamW
// skips (and keeps no state for) a parameter without a gradient, so hiding the gradients of the
// parameters another rank owns makes it update, and keep the moments of, this rank's share only.
#include <algorithm>

#include "distributed_c10d.h"
#include "optimizer_state_key.h"

namespace xlstm {

const torch::optim::AdamWParamState* adamw_state(const torch::optim::AdamW& optimizer,
                                                 const torch::Tensor& p) {
  const auto found = optimizer.state().find(optimizer_state_key(p));
  if (found == optimizer.state().end()) return nullptr;
  return static_cast<const torch::optim::AdamWParamState*>(found->second.get());
}

OptimizerStateSharding::OptimizerStateSharding(std::shared_ptr<Communicator> communicator,
                                               std::vector<torch::Tensor> parameters)
    : communicator_(std::move(communicator)),
      parameters_(std::move(parameters)),
      owners_(parameters_.size(), 0) {
  // Greedy balance: each parameter to the rank with the fewest elements so far (the lowest on a
  // tie), in parameter order; the same on every rank.
  std::vector<int64_t> load(static_cast<size_t>(communicator_->size()), 0);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    owners_[i] = static_cast<int>(least);
    load[static_cast<size_t>(least)] += parameters_[i].numel();
  }
}

int OptimizerStateSharding::owner(size_t parameter_index) const {
  return owners_.at(parameter_index);
}

void OptimizerStateSharding::step(torch::optim::AdamW& optimizer) {
  if (!communicator_->has_group()) {
    optimizer.step();
    return;
  }
  const int me = communicator_->rank();
  std::vector<torch::Tensor> hidden(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (owners_[i] != me) std::swap(hidden[i], parameters_[i].mutable_grad());
  optimizer.step();
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (owners_[i] != me) std::swap(hidden[i], parameters_[i].mutable_grad());
  for (int rank = 0; rank < communicator_->size(); ++rank) {
    std::vector<torch::Tensor> owned;
    for (size_t i = 0; i < parameters_.size(); ++i)
      if (owners_[i] == rank) owned.push_back(parameters_[i]);
    if (!owned.empty()) communicator_->broadcast(owned, rank);
  }
}

void OptimizerStateSharding::drop_foreign_state(torch::optim::AdamW& optimizer) {
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (owners_[i] != communicator_->rank())
      optimizer.state().erase(optimizer_state_key(parameters_[i]));
}

void OptimizerStateSharding::gather_state_to_main(torch::optim::AdamW& optimizer) {
  if (!communicator_->has_group()) return;
  const int me = communicator_->rank();
  auto& states = optimizer.state();
  for (int rank = 1; rank < communicator_->size(); ++rank) {
    std::vector<size_t> owned;
    for (size_t i = 0; i < parameters_.size(); ++i)
      if (owners_[i] == rank) owned.push_back(i);
    if (owned.empty()) continue;
    // [exp_avg..., exp_avg_sq..., steps]; a parameter not stepped yet has step 0 and no state.
    std::vector<torch::Tensor> moments(2 * owned.size());
    auto steps = torch::zeros({static_cast<int64_t>(owned.size())},
                              torch::TensorOptions(torch::kLong).device(communicator_->device()));
    for (size_t j = 0; j < owned.size(); ++j) {
      const auto& p = parameters_[owned[j]];
      const auto* state = me == rank ? adamw_state(optimizer, p) : nullptr;
      if (state) {
        moments[j] = state->exp_avg();
        moments[owned.size() + j] = state->exp_avg_sq();
        steps[static_cast<int64_t>(j)].fill_(state->step());
      } else {
        moments[j] = torch::zeros_like(p, torch::TensorOptions().requires_grad(false));
        moments[owned.size() + j] = torch::zeros_like(moments[j]);
      }
    }
    moments.push_back(steps);
    communicator_->broadcast(moments, rank);
    if (me != 0) continue;
    const auto step_values = steps.cpu();
    for (size_t j = 0; j < owned.size(); ++j) {
      const int64_t step = step_values[static_cast<int64_t>(j)].item<int64_t>();
      if (step == 0) continue;
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(step);
      state->exp_avg(moments[j]);
      state->exp_avg_sq(moments[owned.size() + j]);
      states[optimizer_state_key(parameters_[owned[j]])] = std::move(state);
    }
  }
}

}  // namespace xlstm
