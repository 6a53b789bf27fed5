#include "xlstm/config/error.h"

namespace xlstm {
namespace {
std::string compose(const std::string& key_path, const std::string& message,
                    const std::string& location) {
  std::string text;
  if (!location.empty()) text += location + ": ";
  if (!key_path.empty()) text += key_path + ": ";
  return text + message;
}
}  // namespace

ConfigError::ConfigError(std::string key_path, std::string message, std::string location)
    : std::runtime_error(compose(key_path, message, location)),
      key_path_(std::move(key_path)),
      message_(std::move(message)),
      location_(std::move(location)) {}

ConfigError ConfigError::nested(const std::string& prefix) const {
  return ConfigError(join_key_path(prefix, key_path_), message_, location_);
}

ConfigError ConfigError::located(const std::string& location) const {
  return ConfigError(key_path_, message_, location);
}

std::string join_key_path(const std::string& prefix, const std::string& key) {
  if (prefix.empty()) return key;
  if (key.empty()) return prefix;
  if (key.front() == '[') return prefix + key;
  return prefix + "." + key;
}

}  // namespace xlstm
