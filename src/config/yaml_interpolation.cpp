// OmegaConf-style interpolation: `${a.b.c}` (absolute), `${.x}` (relative to the enclosing
// container, each further dot one level up), list items as `${a.0}` or `${a[0]}`, nested
// `${a.${b}}`, `\${` for a literal `${`. A value that is exactly one interpolation takes the target
// (type and all); an interpolation inside a longer string is replaced by the target's text.
#include <set>

#include "xlstm/config/error.h"
#include "yaml_tree.h"

namespace xlstm::yaml_detail {
namespace {

/// A container on the way from the root to a node, with its key path.
struct Frame {
  Node* node;
  std::string path;
};

/// One piece of an interpolated string: literal text, or the key inside `${...}`.
struct Piece {
  bool is_reference;
  std::string text;
};

bool has_interpolation(const Node& node) {
  return node.kind == Node::Kind::String && !node.literal &&
         node.text.find("${") != std::string::npos;
}

class Resolver {
 public:
  Resolver(Node& root, std::string source) : root_(root), source_(std::move(source)) {}

  void resolve_tree() {
    std::vector<Frame> ancestors;
    resolve_deep(root_, ancestors, "");
  }

 private:
  /// Counts the resolution steps on the stack (resolve_deep and evaluate call each other through
  /// references): a chain of 20,000 references fails here instead of overflowing the stack.
  class Nesting {
   public:
    Nesting(Resolver& resolver, const std::string& path, int line) : depth_(resolver.depth_) {
      if (++depth_ > limits::kResolveDepth) {
        --depth_;
        throw resolver.error(path, line,
                             "interpolations nest more than " +
                                 std::to_string(limits::kResolveDepth) +
                                 " levels deep (a long chain of ${...} references?)");
      }
    }
    ~Nesting() { --depth_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;

   private:
    int& depth_;
  };

  /// Resolves `node` and everything below it; `ancestors` are its containers, outermost first.
  void resolve_deep(Node& node, std::vector<Frame>& ancestors, const std::string& path) {
    const Nesting nesting(*this, path, node.line);
    resolve_value(node, ancestors, path);
    if (node.kind == Node::Kind::Mapping) {
      ancestors.push_back({&node, path});
      for (auto& [key, child] : node.entries)
        resolve_deep(child, ancestors, join_key_path(path, key));
      ancestors.pop_back();
    } else if (node.kind == Node::Kind::Sequence) {
      ancestors.push_back({&node, path});
      for (size_t i = 0; i < node.items.size(); ++i)
        resolve_deep(node.items[i], ancestors, path + "[" + std::to_string(i) + "]");
      ancestors.pop_back();
    }
  }

  /// Replaces an interpolated string by its value (not descending into the result).
  void resolve_value(Node& node, std::vector<Frame>& ancestors, const std::string& path) {
    if (!has_interpolation(node)) return;
    if (active_.count(&node))
      throw error(path, node.line, "interpolation cycle through " + in_quotes(node.text));
    active_.insert(&node);
    Node value = evaluate(node.text, ancestors, path, node.line);
    active_.erase(&node);
    // The value takes the string's place, `ancestors.size()` levels down.
    if (static_cast<int>(ancestors.size()) + measure(value).height > limits::kDepth)
      throw too_deep(path, location(source_, node.line));
    value.line = node.line;
    node = std::move(value);
  }

  Node evaluate(const std::string& text, std::vector<Frame>& ancestors, const std::string& path,
                int line) {
    const Nesting nesting(*this, path, line);
    const auto pieces = split(text, ancestors, path, line);
    if (pieces.size() == 1 && pieces[0].is_reference) {
      const Node& target = lookup(pieces[0].text, text, ancestors, path, line);
      const Extent copied = measure(target);
      budget_.spend(copied.nodes, copied.text_bytes, path, location(source_, line));
      return target;
    }
    Node result;
    result.kind = Node::Kind::String;
    result.literal = true;
    const auto append = [&](const std::string& piece) {
      budget_.spend(0, piece.size(), path, location(source_, line));
      result.text += piece;
    };
    for (const auto& piece : pieces) {
      if (!piece.is_reference) {
        append(piece.text);
        continue;
      }
      const Node& target = lookup(piece.text, text, ancestors, path, line);
      if (!target.is_scalar())
        throw error(path, line,
                    in_quotes(text) + " inserts " + describe(target) + " into a string");
      append(target.kind == Node::Kind::Null ? "None" : target.text);
    }
    return result;
  }

  /// Splits `text` into literal pieces and `${...}` references, resolving references nested in
  /// keys.
  std::vector<Piece> split(const std::string& text, std::vector<Frame>& ancestors,
                           const std::string& path, int line) {
    std::vector<Piece> pieces;
    std::string literal;
    size_t i = 0;
    while (i < text.size()) {
      if (text.compare(i, 3, "\\${") == 0) {
        literal += "${";
        i += 3;
      } else if (text.compare(i, 2, "${") == 0) {
        const size_t close = matching_brace(text, i, path, line);
        if (!literal.empty()) pieces.push_back({false, literal});
        literal.clear();
        std::string key = text.substr(i + 2, close - i - 2);
        if (key.find("${") != std::string::npos) key = evaluate_key(key, ancestors, path, line);
        pieces.push_back({true, key});
        i = close + 1;
      } else {
        literal += text[i++];
      }
    }
    if (!literal.empty() || pieces.empty()) pieces.push_back({false, literal});
    return pieces;
  }

  size_t matching_brace(const std::string& text, size_t open, const std::string& path, int line) {
    int depth = 0;
    for (size_t i = open; i < text.size(); ++i) {
      if (text.compare(i, 2, "${") == 0) {
        ++depth;
        ++i;
      } else if (text[i] == '}' && --depth == 0) {
        return i;
      }
    }
    throw error(path, line, "unterminated interpolation in " + in_quotes(text));
  }

  /// A key that itself holds interpolations (`${a.${b}}`, `${.${.b}}`): resolved to text first, in
  /// the scope of the value that holds it.
  std::string evaluate_key(const std::string& key, std::vector<Frame>& ancestors,
                           const std::string& path, int line) {
    const Node value = evaluate(key, ancestors, path, line);
    if (!value.is_scalar())
      throw error(path, line, "interpolation key " + in_quotes(key) + " is " + describe(value));
    return value.text;
  }

  /// The value that the reference `key` (from `${key}` in `text`) points to, fully resolved (in
  /// the tree: it stays valid until the tree changes).
  const Node& lookup(const std::string& key, const std::string& text, std::vector<Frame>& ancestors,
                     const std::string& path, int line) {
    if (key.find(':') != std::string::npos)
      throw error(path, line, in_quotes(text) + ": resolvers (${name:args}) are not supported");
    size_t dots = 0;
    while (dots < key.size() && key[dots] == '.') ++dots;
    if (dots > ancestors.size())
      throw error(path, line, in_quotes(text) + " goes above the root of the document");
    // `${.x}` starts at the enclosing container, each further dot one level up.
    std::vector<Frame> chain(ancestors.begin(),
                             ancestors.end() - (dots ? dots - 1 : ancestors.size()));
    if (chain.empty()) chain.push_back({&root_, ""});
    const auto segments = segments_of(key.substr(dots), text, path, line);
    if (segments.empty()) throw error(path, line, in_quotes(text) + ": empty interpolation key");

    Node* node = chain.back().node;
    std::string node_path = chain.back().path;
    chain.pop_back();
    for (const auto& segment : segments) {
      resolve_value(*node, chain, node_path);
      Node* next = nullptr;
      std::string next_path;
      if (node->kind == Node::Kind::Mapping) {
        next = node->find(segment);
        next_path = join_key_path(node_path, segment);
      } else if (node->kind == Node::Kind::Sequence && is_index(segment, node->items.size())) {
        next = &node->items[std::stoul(segment)];
        next_path = node_path + "[" + segment + "]";
      }
      if (!next)
        throw error(path, line,
                    in_quotes(text) + ": key " + in_quotes(segment) + " not found" +
                        (node_path.empty() ? "" : " in '" + node_path + "'"));
      chain.push_back({node, node_path});
      node = next;
      node_path = next_path;
    }
    resolve_deep(*node, chain, node_path);
    return *node;
  }

  /// Whether `segment` is a decimal index below `size` (any number of digits).
  static bool is_index(const std::string& segment, size_t size) {
    if (segment.empty() || segment.find_first_not_of("0123456789") != std::string::npos)
      return false;
    const size_t digits = segment.find_first_not_of('0') == std::string::npos
                              ? 0
                              : segment.size() - segment.find_first_not_of('0');
    return digits <= 18 && std::stoul(segment) < size;  // 18 digits fit an unsigned long
  }

  /// `a.b[0].c` -> {a, b, 0, c}.
  std::vector<std::string> segments_of(const std::string& key, const std::string& text,
                                       const std::string& path, int line) {
    std::vector<std::string> segments;
    std::string current;
    for (size_t i = 0; i < key.size(); ++i) {
      const char c = key[i];
      if (c == '.' || c == '[' || c == ']') {
        if (c == ']' && current.empty())
          throw error(path, line, in_quotes(text) + ": malformed key " + in_quotes(key));
        if (!current.empty()) segments.push_back(current);
        current.clear();
      } else {
        current += c;
      }
    }
    if (!current.empty()) segments.push_back(current);
    return segments;
  }

  ConfigError error(const std::string& path, int line, const std::string& message) const {
    return ConfigError(path, message, location(source_, line));
  }

  Node& root_;
  std::string source_;
  std::set<const Node*> active_;  // strings being resolved: meeting one again is a cycle
  int depth_ = 0;                 // Nesting levels on the stack
  ExpansionBudget budget_;        // what the copies of interpolated values add up to
};

}  // namespace

void resolve_interpolations(Node& root, const std::string& source) {
  Resolver(root, source).resolve_tree();
}

}  // namespace xlstm::yaml_detail
