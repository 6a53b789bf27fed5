// Fuzz target: a config file with `--set` overrides, loaded like the binaries load --config (file
// kind detected, interpolated, mapped strictly, finalized); a config that loads must survive
// to_yaml and load again to the same text. Lines `#set key.path=value` of the input (YAML
// comments) are the overrides.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "scratch_file.h"
#include "xlstm/config/experiment.h"
#include "xlstm/config/overrides.h"
#include "xlstm/config/yaml.h"

namespace {

using namespace xlstm;

std::vector<ConfigOverride> overrides_in(const std::string& text) {
  std::vector<ConfigOverride> overrides;
  const std::string marker = "#set ";
  for (size_t begin = 0; begin < text.size();) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    if (text.compare(begin, marker.size(), marker) == 0)
      overrides.push_back(ConfigOverride::parse(
          text.substr(begin + marker.size(), end - begin - marker.size())));
    begin = end + 1;
  }
  return overrides;
}

template <class Config>
void load_and_round_trip(const std::string& path, const std::vector<ConfigOverride>& overrides) {
  const std::string dumped = to_yaml(load_config<Config>(path, overrides));
  std::string again;
  try {
    again = to_yaml(from_yaml_string<Config>(dumped, "dumped.yaml"));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "to_yaml output does not load again: %s\n%s", e.what(), dumped.c_str());
    std::abort();
  }
  if (again != dumped) {
    std::fprintf(stderr, "to_yaml round trip differs:\n%s---\n%s", dumped.c_str(), again.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile file("config.yaml");
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto overrides = overrides_in(text);
    const std::string& path = file.write(data, size);
    switch (detect_config_file_kind(path)) {
      case ConfigFileKind::Experiment:
        load_and_round_trip<ExperimentConfig>(path, overrides);
        break;
      case ConfigFileKind::LMModel:
        load_and_round_trip<xLSTMLMModelConfig>(path, overrides);
        break;
      case ConfigFileKind::BlockStack:
        load_and_round_trip<xLSTMBlockStackConfig>(path, overrides);
        break;
    }
  } catch (const ConfigError&) {  // the one error a config may give
  }
  return 0;
}
