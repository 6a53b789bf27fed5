#include "xlstm_model_kinds.h"

#include <algorithm>
#include <type_traits>

#include "xlstm/config/yaml.h"
#include "xlstm/training/experiment_config.h"
#include "xlstm/xlstm_block_stack.h"
#include "xlstm/xlstm_lm_model.h"

namespace xlstm::apps {
namespace {

// An xLSTMBlockStack or xLSTMLMModel (both carry an xLSTMBlockStackState) as an AppModel.
template <class Holder>
class xLSTMAppModel : public AppModel {
 public:
  xLSTMAppModel(Holder net, bool takes_tokens)
      : net_(std::move(net)), takes_tokens_(takes_tokens) {}

  torch::nn::Module& module() override { return *net_; }
  bool takes_tokens() const override { return takes_tokens_; }
  int64_t input_size() const override {
    if constexpr (std::is_same_v<Holder, xLSTMLMModel>) return net_->config.vocab_size;
    return net_->config.embedding_dim;
  }
  torch::Tensor forward(const torch::Tensor& input) override { return net_->forward(input); }
  std::pair<torch::Tensor, State> forward_with_state(const torch::Tensor& input,
                                                     const State& state) override {
    auto [y, next] = net_->forward_with_state(input, unwrap(state));
    return {y, std::move(next)};
  }
  std::pair<torch::Tensor, State> step(const torch::Tensor& input, const State& state) override {
    auto [y, next] = net_->step(input, unwrap(state));
    return {y, std::move(next)};
  }

 private:
  static xLSTMBlockStackState unwrap(const State& state) {
    if (!state.has_value()) return {};
    const auto* typed = std::any_cast<xLSTMBlockStackState>(&state);
    TORCH_CHECK(typed, "xLSTM model: the state passed in is not an xLSTMBlockStackState");
    return *typed;
  }

  Holder net_;
  bool takes_tokens_;
};

bool has_key(const std::vector<std::string>& keys, const char* key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

template <class Config>
std::string resolve(const std::string& path, const std::vector<ConfigOverride>& overrides) {
  return to_yaml(load_config<Config>(path, overrides));
}

std::unique_ptr<AppModel> lm_model(const xLSTMLMModelConfig& config) {
  return std::make_unique<xLSTMAppModel<xLSTMLMModel>>(xLSTMLMModel(config), true);
}

}  // namespace

std::vector<ModelKind> xlstm_model_kinds() {
  ModelKind experiment{
      "experiment", "an experiment file (training, model, dataset); its model is an xLSTM LM model",
      [](const auto& keys) { return has_key(keys, "model"); }, resolve<ExperimentConfig>,
      [](const std::string& path, const std::vector<ConfigOverride>& overrides) {
        return lm_model(load_config<ExperimentConfig>(path, overrides).model);
      }};
  ModelKind lm{"lm", "an xLSTMLMModelConfig (has vocab_size): token ids in, logits out",
               [](const auto& keys) { return has_key(keys, "vocab_size"); },
               resolve<xLSTMLMModelConfig>,
               [](const std::string& path, const std::vector<ConfigOverride>& overrides) {
                 return lm_model(load_config<xLSTMLMModelConfig>(path, overrides));
               }};
  ModelKind stack{"stack", "an xLSTMBlockStackConfig: float [B, S, D] in and out",
                  [](const auto&) { return true; }, resolve<xLSTMBlockStackConfig>,
                  [](const std::string& path, const std::vector<ConfigOverride>& overrides) {
                    return std::make_unique<xLSTMAppModel<xLSTMBlockStack>>(
                        xLSTMBlockStack(load_config<xLSTMBlockStackConfig>(path, overrides)),
                        false);
                  }};
  return {experiment, lm, stack};
}

}  // namespace xlstm::apps
