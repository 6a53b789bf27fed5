#include "xlstm/config/yaml_keys.h"

#include "yaml_fields.h"

namespace xlstm {

std::vector<std::string> yaml_top_level_keys(const std::string& path) {
  const auto root = yaml_detail::parse_yaml(yaml_detail::read_text_file(path), path);
  std::vector<std::string> keys;
  if (root.kind != yaml_detail::Node::Kind::Mapping) return keys;
  for (const auto& entry : root.entries) keys.push_back(entry.first);
  return keys;
}

}  // namespace xlstm
