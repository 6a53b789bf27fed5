// The YAML document as a small typed tree: scalars typed like PyYAML/OmegaConf read them, every
// node remembering its 1-based line. Interpolation and the strict field mapping work on this tree.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "xlstm/config/error.h"

namespace xlstm::yaml_detail {

/// What a document may hold, so that a hostile one ends in a ConfigError instead of a stack
/// overflow or an exhausted memory (docs/reliability.md).
namespace limits {
constexpr size_t kDocumentBytes = size_t{1} << 20;  // a config file, a YAML string, a --set value
constexpr int kDepth = 64;                          // mappings and lists inside one another
constexpr size_t kNodes = 100'000;                  // values once aliases and ${...} are expanded
constexpr size_t kTextBytes = size_t{16} << 20;     // keys and scalars, expanded likewise
constexpr int kResolveDepth = 1000;  // steps resolving ${...} inside one another (a reference, a
                                     // level of the value it takes)
}  // namespace limits

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

/// "an integer", "a mapping", ...: for messages (long strings shortened).
std::string describe(const Node& node);

/// `text` for a message: its start when long, with its length.
std::string shortened(const std::string& text);
/// shortened(text) in single quotes.
std::string in_quotes(const std::string& text);

/// The size of a tree: values, bytes of key and scalar text, and the levels below the top node.
struct Extent {
  size_t nodes = 0;
  size_t text_bytes = 0;
  int height = 0;
};
Extent measure(const Node& node);

/// Counts what one document expands to; a ConfigError (at `path`, `where`) once the total passes
/// limits::kNodes or limits::kTextBytes.
class ExpansionBudget {
 public:
  void spend(size_t nodes, size_t text_bytes, const std::string& path, const std::string& where);

 private:
  size_t nodes_ = 0;
  size_t text_bytes_ = 0;
};

/// A ConfigError for a value nested deeper than limits::kDepth.
ConfigError too_deep(const std::string& path, const std::string& where);

/// How a plain (unquoted) scalar is typed: PyYAML's YAML 1.1 rules with OmegaConf's float pattern.
Node::Kind plain_scalar_kind(const std::string& text);

/// Parses YAML text (one document); a syntax error, a duplicate key, a recursive alias or a
/// document beyond the limits above is a ConfigError.
Node parse_yaml(const std::string& text, const std::string& source);

/// Resolves every `${...}` interpolation in place (OmegaConf semantics, see docs/configuration.md),
/// within the limits above.
void resolve_interpolations(Node& root, const std::string& source);

/// The line of the deepest node on `key_path` (e.g. `slstm_block.slstm.num_heads`, `slstm_at[1]`)
/// that exists in the tree.
int locate_line(const Node& root, const std::string& key_path);

/// "file:line".
std::string location(const std::string& source, int line);

}  // namespace xlstm::yaml_detail
