// xlstm-config FILE [--kind auto|stack|lm|experiment]: loads and validates a YAML config and prints
// it fully resolved (interpolations replaced, derived values filled in). Bad input: the error
// (file:line: key.path: problem) on stderr and exit code 1.
#include <CLI/CLI.hpp>

#include <iostream>

#include "xlstm/config/experiment.h"

namespace {

std::string resolved_yaml(const std::string& path, const std::string& kind) {
  using xlstm::ConfigFileKind;
  ConfigFileKind file_kind = kind == "stack"  ? ConfigFileKind::BlockStack
                             : kind == "lm"   ? ConfigFileKind::LMModel
                             : kind == "auto" ? xlstm::detect_config_file_kind(path)
                                              : ConfigFileKind::Experiment;
  switch (file_kind) {
    case ConfigFileKind::BlockStack:
      return xlstm::to_yaml(xlstm::from_yaml_file<xlstm::xLSTMBlockStackConfig>(path));
    case ConfigFileKind::LMModel:
      return xlstm::to_yaml(xlstm::from_yaml_file<xlstm::xLSTMLMModelConfig>(path));
    case ConfigFileKind::Experiment:
      return xlstm::to_yaml(xlstm::from_yaml_file<xlstm::ExperimentConfig>(path));
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Load, validate and print an xLSTM YAML config (block stack, LM model or experiment)"};
  std::string path;
  std::string kind = "auto";
  app.add_option("file", path, "YAML config file")->required();
  app.add_option(
         "--kind", kind,
         "what the file holds; auto: an experiment if it has a `model` section, an LM model "
         "if it has `vocab_size`, else a block stack")
      ->check(CLI::IsMember({"auto", "stack", "lm", "experiment"}));
  CLI11_PARSE(app, argc, argv);

  try {
    std::cout << resolved_yaml(path, kind);
  } catch (const xlstm::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
