// The field-list toolkit of the YAML layer: one list per config struct (`visit_fields`), walked by
// a Reader (strict YAML -> struct, like dacite's strict mode) or a Writer (struct -> YAML).
//
// Registering a struct, in its own source file (any family, any folder):
//
//   namespace xlstm::yaml_detail {
//   template <class Visitor>
//   void visit_fields(Visitor& v, large::BlockConfig& c) {  // keys in the Python order
//     v("embedding_dim", c.embedding_dim);
//     v("feedforward", c.feedforward, Absent::Omit);  // nested structs: their own field lists
//   }
//   XLSTM_YAML_CONFIG(large::BlockConfig)
//   }  // namespace xlstm::yaml_detail
//
// XLSTM_YAML_CONFIG makes from_yaml_string / from_yaml_file / load_config / to_yaml work for the
// struct (it needs a `finalize()`). A struct only nested in others needs no registration; one
// nested in a struct of another file is declared there with XLSTM_YAML_FIELDS_OF.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "xlstm/config/error.h"
#include "xlstm/config/yaml.h"
#include "yaml_tree.h"

namespace xlstm::yaml_detail {

/// How the Writer shows an empty optional: `key: null`, or no key at all (for a block kind that is
/// absent by default, e.g. `mlstm_block`).
enum class Absent { AsNull, Omit };

// ---- reading ----------------------------------------------------------------------------------

/// Where a value sits: its key path and the file it came from.
struct Place {
  const std::string& source;
  std::string path;

  ConfigError error(const Node& node, const std::string& message) const {
    return ConfigError(path, message, location(source, node.line));
  }
  Place child(const std::string& key) const { return {source, join_key_path(path, key)}; }
};

void read_value(const Node& node, int& value, const Place& place);
void read_value(const Node& node, int64_t& value, const Place& place);
void read_value(const Node& node, double& value, const Place& place);
void read_value(const Node& node, bool& value, const Place& place);
void read_value(const Node& node, std::string& value, const Place& place);
/// Python `Union[float, Sequence[float]]` (sLSTM `initial_val`): one number or a list of numbers.
void read_value(const Node& node, std::vector<double>& value, const Place& place);
/// Python `Union[list[int], Literal["all"]]`.
void read_value(const Node& node, SlstmAt& value, const Place& place);

template <class T>
void read_value(const Node& node, std::optional<T>& value, const Place& place) {
  if (node.kind == Node::Kind::Null) {
    value.reset();
    return;
  }
  if (!value) value.emplace();
  read_value(node, *value, place);
}

template <class T>
void read_value(const Node& node, std::map<std::string, T>& value, const Place& place) {
  if (node.kind != Node::Kind::Mapping)
    throw place.error(node, "expected a mapping, got " + describe(node));
  value.clear();
  for (const auto& [key, item] : node.entries) read_value(item, value[key], place.child(key));
}

/// Maps a YAML mapping onto a struct's fields; keys that no field takes are errors.
class Reader {
 public:
  Reader(const Node& mapping, const Place& place) : mapping_(mapping), place_(place) {}

  template <class T>
  void operator()(const char* key, T& field, Absent = Absent::AsNull) {
    const Node* value = mapping_.find(key);
    if (!value) return;
    used_.insert(key);
    read_value(*value, field, place_.child(key));
  }

  /// A problem with the value of `key` (or with the mapping when it is absent).
  [[noreturn]] void fail(const char* key, const std::string& message) const {
    const Node* value = mapping_.find(key);
    throw place_.child(key).error(value ? *value : mapping_, message);
  }

  void check_unknown_keys() const {
    for (const auto& [key, value] : mapping_.entries)
      if (!used_.count(key)) throw place_.child(key).error(value, "unknown key");
  }

 private:
  const Node& mapping_;
  const Place& place_;
  std::set<std::string> used_;
};

template <class Config>
auto read_value(const Node& node, Config& value, const Place& place)
    -> decltype(visit_fields(std::declval<Reader&>(), value)) {
  if (node.kind != Node::Kind::Mapping)
    throw place.error(node, "expected a mapping, got " + describe(node));
  Reader reader(node, place);
  visit_fields(reader, value);
  reader.check_unknown_keys();
}

// ---- writing ----------------------------------------------------------------------------------

/// yaml-cpp's emitter under this namespace's name, so that argument-dependent lookup finds the
/// write_value overloads declared below from the templates declared above them.
class Emitter : public YAML::Emitter {};

void write_value(Emitter& out, int value);
void write_value(Emitter& out, int64_t value);
void write_value(Emitter& out, double value);
void write_value(Emitter& out, bool value);
void write_value(Emitter& out, const std::string& value);
void write_value(Emitter& out, const std::vector<double>& value);
void write_value(Emitter& out, const SlstmAt& value);

template <class T>
void write_value(Emitter& out, std::optional<T>& value) {
  if (value)
    write_value(out, *value);
  else
    out << YAML::Null;
}

template <class T>
void write_value(Emitter& out, std::map<std::string, T>& value) {
  if (value.empty()) out << YAML::Flow;
  out << YAML::BeginMap;
  for (auto& [key, item] : value) {
    out << YAML::Key << key << YAML::Value;
    write_value(out, item);
  }
  out << YAML::EndMap;
}

/// Writes a struct's fields as a mapping.
class Writer {
 public:
  explicit Writer(Emitter& out) : out_(out) {}

  template <class T>
  void operator()(const char* key, T& field, Absent absent = Absent::AsNull) {
    if constexpr (is_optional<T>::value)
      if (absent == Absent::Omit && !field) return;
    out_ << YAML::Key << key << YAML::Value;
    write_value(out_, field);
  }

  [[noreturn]] void fail(const char* key, const std::string& message) const {
    throw ConfigError(key, message);
  }

 private:
  template <class T>
  struct is_optional : std::false_type {};
  template <class T>
  struct is_optional<std::optional<T>> : std::true_type {};

  Emitter& out_;
};

template <class Config>
auto write_value(Emitter& out, Config& value)
    -> decltype(visit_fields(std::declval<Writer&>(), value)) {
  out << YAML::BeginMap;
  Writer writer(out);
  visit_fields(writer, value);
  out << YAML::EndMap;
}

// ---- whole documents --------------------------------------------------------------------------

/// Interpolates, maps strictly and finalizes a parsed document; finalize() errors are located in
/// the document.
template <class Config>
void load_tree(Node root, const std::string& source, Config& config) {
  resolve_interpolations(root, source);
  if (root.kind == Node::Kind::Null) root.kind = Node::Kind::Mapping;  // an empty document
  read_value(root, config, Place{source, ""});
  try {
    config.finalize();
  } catch (const ConfigError& e) {
    if (!e.location().empty()) throw;
    throw e.located(location(source, locate_line(root, e.key_path())));
  }
}

/// The text of a file; a file that cannot be read is a ConfigError.
std::string read_text_file(const std::string& path);

/// The document of the file at `path` with `overrides` applied in order (overrides.cpp).
Node parse_with_overrides(const std::string& path, const std::vector<ConfigOverride>& overrides);

/// `error` located at the `--set` that wrote its key (the last such one); unchanged when none did.
ConfigError located_at_override(const ConfigError& error,
                                const std::vector<ConfigOverride>& overrides);

template <class Config>
void load_string(const std::string& text, const std::string& source_name, Config& config) {
  load_tree(parse_yaml(text, source_name), source_name, config);
}

template <class Config>
void load_file(const std::string& path, const std::vector<ConfigOverride>& overrides,
               Config& config) {
  Node root = parse_with_overrides(path, overrides);
  try {
    load_tree(std::move(root), path, config);
  } catch (const ConfigError& e) {
    throw located_at_override(e, overrides);
  }
}

template <class Config>
std::string dump_document(const Config& config) {
  Config copy = config;
  Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  write_value(out, copy);
  return std::string(out.c_str()) + "\n";
}

}  // namespace xlstm::yaml_detail

/// Registers `Config` (see the top of this file); use it in namespace xlstm::yaml_detail after
/// the struct's field list. Instantiates the field list for both visitors (so that structs of other
/// files can nest it) and the load and dump entry points of the public API.
#define XLSTM_YAML_CONFIG(Config)                                                         \
  template void visit_fields<Reader>(Reader&, Config&);                                   \
  template void visit_fields<Writer>(Writer&, Config&);                                   \
  template void load_string<Config>(const std::string&, const std::string&, Config&);     \
  template void load_file<Config>(const std::string&, const std::vector<ConfigOverride>&, \
                                  Config&);                                               \
  template std::string dump_document<Config>(const Config&);

/// Declares the field list of a struct registered in another file, for nesting it in a struct of
/// this one (in namespace xlstm::yaml_detail).
#define XLSTM_YAML_FIELDS_OF(Config) \
  template <class Visitor>           \
  void visit_fields(Visitor& v, Config& c);
