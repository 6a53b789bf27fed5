#include "model_kinds.h"

#include <algorithm>

#include "large_model_kind.h"
#include "xlstm/config/error.h"
#include "xlstm/config/yaml_keys.h"
#include "xlstm_model_kinds.h"

namespace xlstm::apps {
namespace {

std::vector<ModelKind>& registry() {
  static std::vector<ModelKind> kinds = [] {
    std::vector<ModelKind> all = {large_model_kind()};
    for (auto& kind : xlstm_model_kinds()) all.push_back(std::move(kind));
    return all;
  }();
  return kinds;
}

std::string known_kinds() {
  std::string names;
  for (const ModelKind& kind : registry()) names += (names.empty() ? "" : ", ") + kind.name;
  return names;
}

}  // namespace

torch::Tensor AppModel::step_sequence(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() >= 2, "step_sequence: expected [B, S, ...] input, got ", input.sizes());
  std::vector<torch::Tensor> outputs;
  State state;
  for (int64_t t = 0; t < input.size(1); ++t) {
    auto [y, next] = step(input.narrow(1, t, 1), state);
    outputs.push_back(std::move(y));
    state = std::move(next);
  }
  return torch::cat(outputs, 1);
}

const std::vector<ModelKind>& model_kinds() {
  return registry();
}

void register_model_kind(ModelKind kind) {
  const bool taken = std::any_of(registry().begin(), registry().end(),
                                 [&](const ModelKind& k) { return k.name == kind.name; });
  if (taken || kind.name == "auto")
    throw ConfigError("", "model kind '" + kind.name + "' is already registered");
  registry().push_back(std::move(kind));
}

std::vector<std::string> model_kind_choices() {
  std::vector<std::string> choices = {"auto"};
  for (const ModelKind& kind : registry()) choices.push_back(kind.name);
  return choices;
}

const ModelKind& model_kind_for(const std::string& path, const std::string& name) {
  if (name == "auto") {
    const auto keys = yaml_top_level_keys(path);
    for (const ModelKind& kind : registry())
      if (kind.recognises(keys)) return kind;
    throw ConfigError("", "no model kind recognises this file (known: " + known_kinds() + ")",
                      path);
  }
  for (const ModelKind& kind : registry())
    if (kind.name == name) return kind;
  throw ConfigError("", "unknown model kind '" + name + "' (known: auto, " + known_kinds() + ")");
}

std::unique_ptr<AppModel> build_model(const std::string& path, const std::string& kind,
                                      const std::vector<ConfigOverride>& overrides) {
  return model_kind_for(path, kind).build(path, overrides);
}

}  // namespace xlstm::apps
