// Command-line overrides of a YAML config file (`xlstm-train --set training.batch_size=32`),
// applied to the document before interpolation and mapping, like OmegaConf's dotlist merge.
#pragma once

#include <string>
#include <vector>

namespace xlstm {

/// One `key.path=value` assignment. The value is read as YAML: a scalar typed like the file's
/// (`32`, `1e-3`, `true`, `cuda`, `'42'` for a string) or a flow collection (`[1]`, `{a: 1}`).
struct ConfigOverride {
  std::string key_path;  ///< dotted mapping keys, e.g. `model.slstm_block.slstm.num_heads`
  std::string value;

  /// Splits `key.path=value` at the first '='; a ConfigError names the assignment when the '=' or
  /// the key is missing or a key segment is empty.
  static ConfigOverride parse(const std::string& assignment);
  /// `key.path=value` again.
  std::string text() const { return key_path + "=" + value; }
};

namespace yaml_detail {
// Instantiated by XLSTM_YAML_CONFIG (src/config/yaml_fields.h) for each registered struct.
template <class Config>
void load_file(const std::string& path, const std::vector<ConfigOverride>& overrides,
               Config& config);
}  // namespace yaml_detail

/// Loads a config file (any struct registered for YAML: ExperimentConfig, xLSTMBlockStackConfig,
/// xLSTMLMModelConfig, ...) with `overrides` applied in order: each sets (or adds) the value at its
/// key path, creating missing mappings on the way, before `${...}` interpolations are resolved (so
/// `lr_decay_until_steps: ${.num_steps}` follows an overridden num_steps). Errors are ConfigErrors
/// naming the key: a path through a value that is not a mapping, a value that is not valid YAML,
/// and, located at `--set key=value`, every problem of the overridden value itself (unknown key,
/// wrong type, out of range).
template <typename Config>
Config load_config(const std::string& path, const std::vector<ConfigOverride>& overrides = {}) {
  Config config;
  yaml_detail::load_file(path, overrides, config);
  return config;
}

}  // namespace xlstm
