// The YAML document as a small typed tree: scalars typed like PyYAML/OmegaConf read them, every
// node remembering its 1-based line. Interpolation and the strict field mapping work on this tree.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace xlstm::yaml_detail {

struct Node {
  enum class Kind { Null, Bool, Int, Float, String, Sequence, Mapping };

  Kind kind = Kind::Null;
  std::string text;                                   // the scalar as written (strings: the value)
  std::vector<std::pair<std::string, Node>> entries;  // Mapping, in document order
  std::vector<Node> items;                            // Sequence
  int line = 1;          // where the value starts; a mapping value: the line of its key
  bool literal = false;  // a string that is final (no interpolation left in it)

  bool is_scalar() const { return kind != Kind::Sequence && kind != Kind::Mapping; }
  Node* find(const std::string& key);
  const Node* find(const std::string& key) const;
};

/// "an integer", "a mapping", ...: for messages.
std::string describe(const Node& node);

/// How a plain (unquoted) scalar is typed: PyYAML's YAML 1.1 rules with OmegaConf's float pattern.
Node::Kind plain_scalar_kind(const std::string& text);

/// Parses YAML text (one document); a syntax error or a duplicate key is a ConfigError.
Node parse_yaml(const std::string& text, const std::string& source);

/// Resolves every `${...}` interpolation in place (OmegaConf semantics, see docs/configuration.md).
void resolve_interpolations(Node& root, const std::string& source);

/// The line of the deepest node on `key_path` (e.g. `slstm_block.slstm.num_heads`, `slstm_at[1]`)
/// that exists in the tree.
int locate_line(const Node& root, const std::string& key_path);

/// "file:line".
std::string location(const std::string& source, int line);

}  // namespace xlstm::yaml_detail
