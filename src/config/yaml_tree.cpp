#include "yaml_tree.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>
#include <set>

#include "xlstm/config/error.h"

namespace xlstm::yaml_detail {

Node* Node::find(const std::string& key) {
  for (auto& [name, value] : entries)
    if (name == key) return &value;
  return nullptr;
}

const Node* Node::find(const std::string& key) const {
  return const_cast<Node*>(this)->find(key);
}

std::string describe(const Node& node) {
  switch (node.kind) {
    case Node::Kind::Null:
      return "null";
    case Node::Kind::Bool:
      return "a boolean (" + node.text + ")";
    case Node::Kind::Int:
      return "an integer (" + node.text + ")";
    case Node::Kind::Float:
      return "a float (" + node.text + ")";
    case Node::Kind::String:
      return "a string ('" + node.text + "')";
    case Node::Kind::Sequence:
      return "a list";
    case Node::Kind::Mapping:
      return "a mapping";
  }
  return "a value";
}

Node::Kind plain_scalar_kind(const std::string& text) {
  static const std::regex null_re("~|null|Null|NULL|");
  static const std::regex bool_re(
      "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF");
  static const std::regex int_re("[-+]?(0|[1-9][0-9_]*)");
  // OmegaConf's float resolver (it also accepts `1e-3`, which PyYAML alone reads as a string).
  static const std::regex float_re(
      "[-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+]?[0-9]+)?|[-+]?([0-9][0-9_]*)([eE][-+]?[0-9]+)|"
      "\\.[0-9_]+([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  if (std::regex_match(text, null_re)) return Node::Kind::Null;
  if (std::regex_match(text, bool_re)) return Node::Kind::Bool;
  if (std::regex_match(text, int_re)) return Node::Kind::Int;
  if (std::regex_match(text, float_re)) return Node::Kind::Float;
  return Node::Kind::String;
}

std::string location(const std::string& source, int line) {
  return source + ":" + std::to_string(line);
}

namespace {

/// YAML merge key (`<<: *base` or `<<: [*a, *b]`): adds the keys that the mapping does not set
/// itself; of several merged mappings the earlier ones win.
void merge_into(Node& mapping, const Node& merged, const std::string& source) {
  if (merged.kind == Node::Kind::Sequence) {
    for (const auto& item : merged.items) merge_into(mapping, item, source);
    return;
  }
  if (merged.kind != Node::Kind::Mapping)
    throw ConfigError("<<",
                      "a merge key takes a mapping or a list of mappings, got " + describe(merged),
                      location(source, merged.line));
  for (const auto& [key, value] : merged.entries)
    if (!mapping.find(key)) mapping.entries.emplace_back(key, value);
}

Node convert(const YAML::Node& in, int line, const std::string& source) {
  Node out;
  out.line = line;
  switch (in.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.kind = Node::Kind::Null;
      break;
    case YAML::NodeType::Scalar:
      out.text = in.Scalar();
      // "!" marks a quoted scalar; an explicit !!str tag also keeps the text a string.
      out.kind = (in.Tag() == "!" || in.Tag() == "tag:yaml.org,2002:str")
                     ? Node::Kind::String
                     : plain_scalar_kind(out.text);
      break;
    case YAML::NodeType::Sequence:
      out.kind = Node::Kind::Sequence;
      for (const auto& item : in) {
        const int item_line = item.Mark().line >= 0 ? item.Mark().line + 1 : line;
        try {
          out.items.push_back(convert(item, item_line, source));
        } catch (const ConfigError& e) {
          throw e.nested("[" + std::to_string(out.items.size()) + "]");
        }
      }
      break;
    case YAML::NodeType::Map: {
      out.kind = Node::Kind::Mapping;
      std::set<std::string> seen;
      std::vector<Node> merged;  // the values of `<<` merge keys
      for (const auto& entry : in) {
        const int key_line = entry.first.Mark().line + 1;
        if (!entry.first.IsScalar())
          throw ConfigError("", "mapping keys must be scalars", location(source, key_line));
        const std::string key = entry.first.Scalar();
        if (!seen.insert(key).second)
          throw ConfigError(key, "duplicate key", location(source, key_line));
        try {
          Node value = convert(entry.second, key_line, source);
          if (key == "<<" && entry.first.Tag() == "?")
            merged.push_back(std::move(value));
          else
            out.entries.emplace_back(key, std::move(value));
        } catch (const ConfigError& e) {
          throw e.nested(key);
        }
      }
      for (const auto& value : merged) merge_into(out, value, source);
      break;
    }
  }
  return out;
}

}  // namespace

Node parse_yaml(const std::string& text, const std::string& source) {
  YAML::Node document;
  try {
    document = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("", "YAML syntax error: " + e.msg,
                      location(source, std::max(e.mark.line, 0) + 1));
  }
  const int line = document.IsNull() ? 1 : document.Mark().line + 1;
  return convert(document, line, source);
}

int locate_line(const Node& root, const std::string& key_path) {
  static const std::regex segment_re("([^.\\[\\]]+)|\\[([0-9]+)\\]");
  const Node* node = &root;
  for (std::sregex_iterator it(key_path.begin(), key_path.end(), segment_re), end; it != end;
       ++it) {
    const Node* next = nullptr;
    if ((*it)[1].matched && node->kind == Node::Kind::Mapping) {
      next = node->find((*it)[1].str());
    } else if ((*it)[2].matched && node->kind == Node::Kind::Sequence) {
      const size_t index = std::stoul((*it)[2].str());
      if (index < node->items.size()) next = &node->items[index];
    }
    if (!next) break;
    node = next;
  }
  return node->line;
}

}  // namespace xlstm::yaml_detail
