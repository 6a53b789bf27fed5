#include "xlstm_model_kinds.h"

#include <algorithm>

#include "xlstm/config/yaml.h"
#include "xlstm/training/experiment_config.h"
#include "xlstm/xlstm_block_stack.h"
#include "xlstm/xlstm_lm_model.h"

namespace xlstm::apps {
namespace {

bool has_key(const std::vector<std::string>& keys, const char* key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

template <class Config>
std::string resolve(const std::string& path, const std::vector<ConfigOverride>& overrides) {
  return to_yaml(load_config<Config>(path, overrides));
}

std::unique_ptr<AppModel> lm_model(const xLSTMLMModelConfig& config) {
  return std::make_unique<HolderAppModel<xLSTMLMModel, xLSTMBlockStackState>>(
      xLSTMLMModel(config), true, config.vocab_size);
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
                    const auto config = load_config<xLSTMBlockStackConfig>(path, overrides);
                    return std::make_unique<HolderAppModel<xLSTMBlockStack, xLSTMBlockStackState>>(
                        xLSTMBlockStack(config), false, config.embedding_dim);
                  }};
  return {experiment, lm, stack};
}

}  // namespace xlstm::apps
