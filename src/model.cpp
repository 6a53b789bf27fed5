#include "xlstm/model.h"

#include "xlstm/config/experiment.h"
#include "xlstm/config/yaml.h"

namespace xlstm {

Model::Model(const xLSTMBlockStackConfig& config) : stack_(config) {}
Model::Model(const xLSTMLMModelConfig& config) : lm_(config) {}

Model Model::from_yaml_file(const std::string& path, const std::vector<ConfigOverride>& overrides) {
  switch (detect_config_file_kind(path)) {
    case ConfigFileKind::LMModel:
      return Model(load_config<xLSTMLMModelConfig>(path, overrides));
    case ConfigFileKind::BlockStack:
      return Model(load_config<xLSTMBlockStackConfig>(path, overrides));
    case ConfigFileKind::Experiment:
      return Model(load_config<ExperimentConfig>(path, overrides).model);
  }
  throw ConfigError("", "unrecognised config file", path);
}

torch::nn::Module& Model::module() {
  if (is_lm()) return *lm_;
  return *stack_;
}

const xLSTMBlockStackConfig& Model::config() const {
  return is_lm() ? static_cast<const xLSTMBlockStackConfig&>(lm_->config) : stack_->config;
}

torch::Tensor Model::forward(const torch::Tensor& input) {
  return is_lm() ? lm_->forward(input) : stack_->forward(input);
}

std::pair<torch::Tensor, xLSTMBlockStackState> Model::forward_with_state(
    const torch::Tensor& input, const xLSTMBlockStackState& state) {
  return is_lm() ? lm_->forward_with_state(input, state) : stack_->forward_with_state(input, state);
}

std::pair<torch::Tensor, xLSTMBlockStackState> Model::step(const torch::Tensor& input,
                                                           const xLSTMBlockStackState& state) {
  return is_lm() ? lm_->step(input, state) : stack_->step(input, state);
}

torch::Tensor Model::step_sequence(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() >= 2, "step_sequence: expected [B, S, ...] input, got ", input.sizes());
  std::vector<torch::Tensor> outputs;
  xLSTMBlockStackState state;
  for (int64_t t = 0; t < input.size(1); ++t) {
    auto [y, next] = step(input.narrow(1, t, 1), state);
    outputs.push_back(std::move(y));
    state = std::move(next);
  }
  return torch::cat(outputs, 1);
}

}  // namespace xlstm
