// YAML in and out for the config structs (Python: OmegaConf + dacite `from_dict(...,
// strict=True)`).
//
// Loading parses the document, resolves OmegaConf-style `${...}` interpolations, maps every key
// onto the struct strictly (unknown keys, wrong types and bad values are errors) and calls
// `finalize()`. Every failure is an `xlstm::ConfigError` naming the key path and the `file:line` of
// the value. `to_yaml` writes every field, derived ones included, under the Python names; loading
// its output gives the same struct back.
//
// The functions below work for every struct registered with XLSTM_YAML_CONFIG beside its field
// list (src/config/yaml_fields.h); another struct fails to link, naming yaml_detail::load_string
// or dump_document of it.
#pragma once

#include <string>

#include "xlstm/config/components.h"
#include "xlstm/config/error.h"
#include "xlstm/config/mlstm.h"
#include "xlstm/config/overrides.h"
#include "xlstm/config/slstm.h"
#include "xlstm/config/xlstm.h"

namespace xlstm {

namespace yaml_detail {
// Instantiated by XLSTM_YAML_CONFIG for each registered struct.
template <class Config>
void load_string(const std::string& text, const std::string& source_name, Config& config);
template <class Config>
std::string dump_document(const Config& config);
}  // namespace yaml_detail

/// Loads a config from YAML text; `source_name` stands for the file name in error locations.
template <class Config>
Config from_yaml_string(const std::string& text, const std::string& source_name = "<string>") {
  Config config;
  yaml_detail::load_string(text, source_name, config);
  return config;
}

/// Loads a config from a YAML file.
template <class Config>
Config from_yaml_file(const std::string& path) {
  return load_config<Config>(path);
}

/// The config as a YAML document (every field, derived values included).
template <class Config>
std::string to_yaml(const Config& config) {
  return yaml_detail::dump_document(config);
}

}  // namespace xlstm
