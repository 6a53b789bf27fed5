// YAML in and out for the config structs (Python: OmegaConf + dacite `from_dict(...,
// strict=True)`).
//
// Loading parses the document, resolves OmegaConf-style `${...}` interpolations, maps every key
// onto the struct strictly (unknown keys, wrong types and bad values are errors) and calls
// `finalize()`. Every failure is an `xlstm::ConfigError` naming the key path and the `file:line` of
// the value. `to_yaml` writes every field, derived ones included, under the Python names; loading
// its output gives the same struct back.
#pragma once

#include <string>
#include <type_traits>

#include "xlstm/config/components.h"
#include "xlstm/config/error.h"
#include "xlstm/config/mlstm.h"
#include "xlstm/config/slstm.h"
#include "xlstm/config/xlstm.h"

namespace xlstm {

/// True for the structs that `from_yaml_string` / `from_yaml_file` can load.
template <class Config>
struct is_yaml_config : std::false_type {};

#define XLSTM_YAML_CONFIG(Config) \
  template <>                     \
  struct is_yaml_config<Config> : std::true_type {};
XLSTM_YAML_CONFIG(CausalConv1dConfig)
XLSTM_YAML_CONFIG(LinearHeadwiseExpandConfig)
XLSTM_YAML_CONFIG(FeedForwardConfig)
XLSTM_YAML_CONFIG(mLSTMCellConfig)
XLSTM_YAML_CONFIG(mLSTMLayerConfig)
XLSTM_YAML_CONFIG(mLSTMBlockConfig)
XLSTM_YAML_CONFIG(sLSTMCellConfig)
XLSTM_YAML_CONFIG(sLSTMLayerConfig)
XLSTM_YAML_CONFIG(sLSTMBlockConfig)
XLSTM_YAML_CONFIG(xLSTMBlockConfig)
XLSTM_YAML_CONFIG(xLSTMBlockStackConfig)
XLSTM_YAML_CONFIG(xLSTMLMModelConfig)
#undef XLSTM_YAML_CONFIG

namespace yaml_detail {
// Instantiated in src/config for every Config with is_yaml_config<Config>.
template <class Config>
void load_string(const std::string& text, const std::string& source_name, Config& config);
template <class Config>
void load_file(const std::string& path, Config& config);
}  // namespace yaml_detail

/// Loads a config from YAML text; `source_name` stands for the file name in error locations.
template <class Config>
Config from_yaml_string(const std::string& text, const std::string& source_name = "<string>") {
  static_assert(is_yaml_config<Config>::value, "from_yaml_string: not a loadable config struct");
  Config config;
  yaml_detail::load_string(text, source_name, config);
  return config;
}

/// Loads a config from a YAML file.
template <class Config>
Config from_yaml_file(const std::string& path) {
  static_assert(is_yaml_config<Config>::value, "from_yaml_file: not a loadable config struct");
  Config config;
  yaml_detail::load_file(path, config);
  return config;
}

/// The config as a YAML document (every field, derived values included).
std::string to_yaml(const CausalConv1dConfig& config);
std::string to_yaml(const LinearHeadwiseExpandConfig& config);
std::string to_yaml(const FeedForwardConfig& config);
std::string to_yaml(const mLSTMCellConfig& config);
std::string to_yaml(const mLSTMLayerConfig& config);
std::string to_yaml(const mLSTMBlockConfig& config);
std::string to_yaml(const sLSTMCellConfig& config);
std::string to_yaml(const sLSTMLayerConfig& config);
std::string to_yaml(const sLSTMBlockConfig& config);
std::string to_yaml(const xLSTMBlockConfig& config);
std::string to_yaml(const xLSTMBlockStackConfig& config);
std::string to_yaml(const xLSTMLMModelConfig& config);

}  // namespace xlstm
