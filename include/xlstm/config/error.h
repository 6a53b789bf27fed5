// ConfigError: a configuration problem, located by the key path of the offending field.
#pragma once

#include <stdexcept>
#include <string>

namespace xlstm {

/// Thrown for any invalid configuration. `key_path()` names the field in dotted form
/// (e.g. `slstm_block.slstm.num_heads`); `what()` is the full human-readable message, which the
/// YAML layer extends with `file:line` when the value came from a YAML document.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key_path, std::string message, std::string location = "");

  const std::string& key_path() const { return key_path_; }
  const std::string& message() const { return message_; }
  /// `file:line` (or `<string>:line`) of the offending value, empty when unknown.
  const std::string& location() const { return location_; }

  /// The same error one nesting level further out: `prefix` is prepended to the key path.
  ConfigError nested(const std::string& prefix) const;
  /// The same error located at `location`.
  ConfigError located(const std::string& location) const;

 private:
  std::string key_path_;
  std::string message_;
  std::string location_;
};

/// Joins two key path segments: join_key_path("a", "b") == "a.b"; list items use "a[3]".
std::string join_key_path(const std::string& prefix, const std::string& key);

}  // namespace xlstm
