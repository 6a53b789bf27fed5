#include "yaml_tree.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
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

std::string shortened(const std::string& text) {
  constexpr size_t kShown = 60;
  if (text.size() <= kShown) return text;
  return text.substr(0, kShown) + "... (" + std::to_string(text.size()) + " characters)";
}

std::string in_quotes(const std::string& text) {
  return "'" + shortened(text) + "'";
}

std::string describe(const Node& node) {
  switch (node.kind) {
    case Node::Kind::Null:
      return "null";
    case Node::Kind::Bool:
      return "a boolean (" + shortened(node.text) + ")";
    case Node::Kind::Int:
      return "an integer (" + shortened(node.text) + ")";
    case Node::Kind::Float:
      return "a float (" + shortened(node.text) + ")";
    case Node::Kind::String:
      return "a string (" + in_quotes(node.text) + ")";
    case Node::Kind::Sequence:
      return "a list";
    case Node::Kind::Mapping:
      return "a mapping";
  }
  return "a value";
}

namespace {

// The scalar patterns, scanned by hand: std::regex recurses once per character and overflows the
// stack on a scalar of some 100,000 digits.
class Scanner {
 public:
  explicit Scanner(const std::string& text) : text_(text) {}

  bool at_end() const { return pos_ == text_.size(); }
  bool take(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) return ++pos_, true;
    return false;
  }
  bool take_sign() { return take('-') || take('+'); }
  /// Skips characters of `[0-9]` (or `[0-9_]`); false when there is none.
  bool take_digits(bool underscores) {
    const size_t from = pos_;
    while (pos_ < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[pos_])) ||
                                   (underscores && text_[pos_] == '_')))
      ++pos_;
    return pos_ > from;
  }
  /// `[eE][-+]?[0-9]+`; false when it is absent or incomplete.
  bool take_exponent() {
    if (!take('e') && !take('E')) return false;
    take_sign();
    return take_digits(false);
  }
  bool rest_is_one_of(std::initializer_list<const char*> words) const {
    return std::any_of(words.begin(), words.end(),
                       [&](const char* word) { return text_.compare(pos_, npos, word) == 0; });
  }
  bool next_is_digit() const {
    return pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]));
  }

 private:
  static constexpr size_t npos = std::string::npos;
  const std::string& text_;
  size_t pos_ = 0;
};

// [-+]?(0|[1-9][0-9_]*)
bool is_int(const std::string& text) {
  Scanner s(text);
  s.take_sign();
  if (s.take('0')) return s.at_end();
  return s.next_is_digit() && s.take_digits(true) && s.at_end();
}

// OmegaConf's float resolver (it also accepts `1e-3`, which PyYAML alone reads as a string):
// [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+]?[0-9]+)? | [-+]?[0-9][0-9_]*[eE][-+]?[0-9]+ |
// \.[0-9_]+([eE][-+]?[0-9]+)? | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
bool is_float(const std::string& text) {
  Scanner s(text);
  if (s.rest_is_one_of({".nan", ".NaN", ".NAN"})) return true;
  const bool sign = s.take_sign();
  if (s.rest_is_one_of({".inf", ".Inf", ".INF"})) return true;
  if (s.take('.')) {
    if (sign || !s.take_digits(true)) return false;
  } else {
    if (!s.next_is_digit()) return false;
    s.take_digits(true);
    if (!s.take('.')) return s.take_exponent() && s.at_end();
    s.take_digits(true);
  }
  return s.at_end() || (s.take_exponent() && s.at_end());
}

bool is_one_of(const std::string& text, std::initializer_list<const char*> words) {
  return std::any_of(words.begin(), words.end(), [&](const char* word) { return text == word; });
}

}  // namespace

Node::Kind plain_scalar_kind(const std::string& text) {
  if (is_one_of(text, {"~", "null", "Null", "NULL", ""})) return Node::Kind::Null;
  if (is_one_of(text, {"yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false",
                       "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"}))
    return Node::Kind::Bool;
  if (is_int(text)) return Node::Kind::Int;
  if (is_float(text)) return Node::Kind::Float;
  return Node::Kind::String;
}

std::string location(const std::string& source, int line) {
  return source + ":" + std::to_string(line);
}

Extent measure(const Node& node) {
  Extent extent{1, node.text.size(), 0};
  const auto add = [&](const Node& child) {
    const Extent below = measure(child);
    extent.nodes += below.nodes;
    extent.text_bytes += below.text_bytes;
    extent.height = std::max(extent.height, below.height + 1);
  };
  for (const auto& [key, value] : node.entries) {
    extent.text_bytes += key.size();
    add(value);
  }
  for (const auto& item : node.items) add(item);
  return extent;
}

void ExpansionBudget::spend(size_t nodes, size_t text_bytes, const std::string& path,
                            const std::string& where) {
  nodes_ += nodes;
  text_bytes_ += text_bytes;
  if (nodes_ > limits::kNodes)
    throw ConfigError(path,
                      "the document expands to more than " + std::to_string(limits::kNodes) +
                          " values (through aliases, merge keys or ${...})",
                      where);
  if (text_bytes_ > limits::kTextBytes)
    throw ConfigError(path,
                      "the document expands to more than " + std::to_string(limits::kTextBytes) +
                          " bytes of text (through aliases, merge keys or ${...})",
                      where);
}

ConfigError too_deep(const std::string& path, const std::string& where) {
  return ConfigError(path, "nested deeper than " + std::to_string(limits::kDepth) + " levels",
                     where);
}

namespace {

/// YAML merge key (`<<: *base` or `<<: [*a, *b]`): adds the keys that the mapping does not set
/// itself; of several merged mappings the earlier ones win.
void merge_into(Node& mapping, Node& merged, const std::string& source) {
  if (merged.kind == Node::Kind::Sequence) {
    for (auto& item : merged.items) merge_into(mapping, item, source);
    return;
  }
  if (merged.kind != Node::Kind::Mapping)
    throw ConfigError("<<",
                      "a merge key takes a mapping or a list of mappings, got " + describe(merged),
                      location(source, merged.line));
  for (auto& [key, value] : merged.entries)
    if (!mapping.find(key)) mapping.entries.emplace_back(key, std::move(value));
}

/// yaml-cpp's node graph (an alias is the anchored node itself) as a tree of Nodes: every alias
/// expanded, within the budget and depth limits; an alias inside its own anchor is an error.
class Converter {
 public:
  explicit Converter(const std::string& source) : source_(source) {}

  Node convert(const YAML::Node& in, int line, int depth) {
    const std::string where = location(source_, line);
    if (depth > limits::kDepth) throw too_deep("", where);
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
        enter(in, where);
        for (const auto& item : in) {
          const int item_line = item.Mark().line >= 0 ? item.Mark().line + 1 : line;
          try {
            out.items.push_back(convert(item, item_line, depth + 1));
          } catch (const ConfigError& e) {
            throw e.nested("[" + std::to_string(out.items.size()) + "]");
          }
        }
        open_.pop_back();
        break;
      case YAML::NodeType::Map:
        out.kind = Node::Kind::Mapping;
        enter(in, where);
        convert_entries(in, out, depth);
        open_.pop_back();
        break;
    }
    budget_.spend(1, out.text.size(), "", where);
    return out;
  }

 private:
  void enter(const YAML::Node& in, const std::string& where) {
    for (const auto& outer : open_)
      if (outer.is(in))
        throw ConfigError("", "the value contains itself (a recursive alias or merge key)", where);
    open_.push_back(in);
  }

  void convert_entries(const YAML::Node& in, Node& out, int depth) {
    std::set<std::string> seen;
    std::vector<Node> merged;  // the values of `<<` merge keys
    for (const auto& entry : in) {
      const int key_line = entry.first.Mark().line + 1;
      if (!entry.first.IsScalar())
        throw ConfigError("", "mapping keys must be scalars", location(source_, key_line));
      const std::string key = entry.first.Scalar();
      if (!seen.insert(key).second)
        throw ConfigError(key, "duplicate key", location(source_, key_line));
      try {
        budget_.spend(0, key.size(), "", location(source_, key_line));
        Node value = convert(entry.second, key_line, depth + 1);
        if (key == "<<" && entry.first.Tag() == "?")
          merged.push_back(std::move(value));
        else
          out.entries.emplace_back(key, std::move(value));
      } catch (const ConfigError& e) {
        throw e.nested(key);
      }
    }
    for (auto& value : merged) merge_into(out, value, source_);
  }

  const std::string& source_;
  std::vector<YAML::Node> open_;  // the collections being converted, outermost first
  ExpansionBudget budget_;
};

}  // namespace

Node parse_yaml(const std::string& text, const std::string& source) {
  if (text.size() > limits::kDocumentBytes)
    throw ConfigError("",
                      "the document of " + std::to_string(text.size()) +
                          " bytes is larger than the " + std::to_string(limits::kDocumentBytes) +
                          "-byte limit",
                      source);
  YAML::Node document;
  try {
    document = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's own guard, at some 500 levels
    throw too_deep("", location(source, std::max(e.mark.line, 0) + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError("", "YAML syntax error: " + e.msg,
                      location(source, std::max(e.mark.line, 0) + 1));
  }
  const int line = document.IsNull() ? 1 : document.Mark().line + 1;
  return Converter(source).convert(document, line, 0);
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
