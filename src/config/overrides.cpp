#include "xlstm/config/overrides.h"

#include "yaml_fields.h"

namespace xlstm {
namespace {

using yaml_detail::Node;

std::vector<std::string> split_key_path(const std::string& key_path) {
  std::vector<std::string> keys;
  size_t begin = 0;
  while (true) {
    const size_t dot = key_path.find('.', begin);
    keys.push_back(key_path.substr(begin, dot - begin));
    if (dot == std::string::npos) return keys;
    begin = dot + 1;
  }
}

void apply_override(Node& root, const ConfigOverride& override) {
  const std::string where = "--set " + override.text();
  Node value;
  try {
    value = yaml_detail::parse_yaml(override.value, where);
  } catch (const ConfigError& e) {
    throw ConfigError(join_key_path(override.key_path, e.key_path()),
                      "the value is not valid YAML: " + e.message(), where);
  }
  // The value lands one level down per key of the path.
  const auto keys = split_key_path(override.key_path);
  if (keys.size() + yaml_detail::measure(value).height > yaml_detail::limits::kDepth)
    throw yaml_detail::too_deep(override.key_path, where);
  if (root.kind == Node::Kind::Null) root.kind = Node::Kind::Mapping;
  Node* node = &root;
  std::string walked;
  for (const auto& key : keys) {
    if (node->kind != Node::Kind::Mapping) {
      if (node->kind != Node::Kind::Null)
        throw ConfigError(walked, "cannot set '" + key + "' inside " + yaml_detail::describe(*node),
                          where);
      *node = Node{};
      node->kind = Node::Kind::Mapping;
    }
    walked = join_key_path(walked, key);
    Node* child = node->find(key);
    if (!child) {
      node->entries.emplace_back(key, Node{});
      child = &node->entries.back().second;
      child->kind = Node::Kind::Null;
    }
    node = child;
  }
  value.line = node->line;
  *node = std::move(value);
}

bool overrides_key(const ConfigOverride& override, const std::string& key_path) {
  const auto& key = override.key_path;
  return key_path == key || (key_path.rfind(key, 0) == 0 &&
                             (key_path[key.size()] == '.' || key_path[key.size()] == '['));
}

}  // namespace

ConfigOverride ConfigOverride::parse(const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos)
    throw ConfigError("", "expected key.path=value, got '" + assignment + "'", "--set");
  ConfigOverride override{assignment.substr(0, equals), assignment.substr(equals + 1)};
  for (const auto& key : split_key_path(override.key_path))
    if (key.empty())
      throw ConfigError(override.key_path, "empty key in '" + assignment + "'", "--set");
  return override;
}

namespace yaml_detail {

Node parse_with_overrides(const std::string& path, const std::vector<ConfigOverride>& overrides) {
  Node root = parse_yaml(read_text_file(path), path);
  for (const auto& override : overrides) apply_override(root, override);
  return root;
}

ConfigError located_at_override(const ConfigError& error,
                                const std::vector<ConfigOverride>& overrides) {
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it)
    if (overrides_key(*it, error.key_path())) return error.located("--set " + it->text());
  return error;
}

}  // namespace yaml_detail
}  // namespace xlstm
