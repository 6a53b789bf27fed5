// xlstm-config FILE [--kind auto|stack|lm|experiment]: loads and validates a YAML config and prints
// it fully resolved (interpolations replaced, derived values filled in). Bad input: the error
// (file:line: key.path: problem) on stderr and exit code 1. The kinds come from the model-kind
// registry (examples/common/model_kinds.h).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli_options.h"
#include "error_report.h"
#include "model_kinds.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Load, validate and print an xLSTM YAML config (block stack, LM model or experiment)"};
  std::string path;
  std::string kind = "auto";
  std::string kinds_help = "what the file holds; auto: the first kind that recognises it";
  for (const auto& k : xlstm::apps::model_kinds())
    kinds_help += "\n  " + k.name + ": " + k.description;
  app.add_option("file", path, "YAML config file")->required();
  app.add_option("--kind", kind, kinds_help)
      ->check(CLI::IsMember(xlstm::apps::model_kind_choices()));
  if (const auto code = xlstm::apps::parse_command_line(app, argc, argv, "xlstm-config"))
    return *code;
  return xlstm::apps::run_main("xlstm-config", [&] {
    std::cout << xlstm::apps::model_kind_for(path, kind).resolve(path, {});
    return 0;
  });
}
