#include "xlstm/config/experiment.h"

#include "yaml_fields.h"

namespace xlstm {

ConfigFileKind detect_config_file_kind(const std::string& path) {
  const auto root = yaml_detail::parse_yaml(yaml_detail::read_text_file(path), path);
  if (root.kind == yaml_detail::Node::Kind::Mapping) {
    if (root.find("model")) return ConfigFileKind::Experiment;
    if (root.find("vocab_size")) return ConfigFileKind::LMModel;
  }
  return ConfigFileKind::BlockStack;
}

}  // namespace xlstm
