// Small validation helpers shared by the finalize() implementations.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "xlstm/config/error.h"

namespace xlstm::config_check {

inline void require(bool ok, const std::string& key, const std::string& message) {
  if (!ok) throw ConfigError(key, message);
}

inline void positive(long value, const std::string& key) {
  require(value > 0, key, "must be positive, got " + std::to_string(value));
}

inline void non_negative(long value, const std::string& key) {
  require(value >= 0, key, "must be >= 0, got " + std::to_string(value));
}

/// `value` as a message shows it ("nan", "inf", "0.001").
inline std::string number_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

inline void probability(double value, const std::string& key) {
  require(value >= 0.0 && value < 1.0, key, "must be in [0, 1), got " + number_text(value));
}

/// A number that must be finite (YAML's .nan and .inf are refused) and at least `low` (or, with
/// `strict`, above it).
inline void finite_at_least(double value, double low, bool strict, const std::string& key) {
  const bool ok = std::isfinite(value) && (strict ? value > low : value >= low);
  require(ok, key,
          std::string("must be a finite number ") + (strict ? "> " : ">= ") + number_text(low) +
              ", got " + number_text(value));
}

inline void one_of(const std::string& value, const std::vector<std::string>& allowed,
                   const std::string& key) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + ("'" + a + "'");
  throw ConfigError(key, "unknown value '" + value + "'; expected one of " + list);
}

inline void divides(long divisor, long dividend, const std::string& key, const std::string& what) {
  require(divisor > 0 && dividend % divisor == 0, key,
          std::to_string(divisor) + " does not divide " + what + " = " + std::to_string(dividend));
}

/// A size computed in floating point (a factor times a dimension) as an int; a value that does not
/// fit (from a huge or infinite factor) is an error, not undefined behaviour.
inline int int_size(double value, const std::string& key) {
  std::ostringstream text;
  text << "gives a size of " << value << ", outside the range of int";
  require(std::isfinite(value) && value >= std::numeric_limits<int>::min() &&
              value <= std::numeric_limits<int>::max(),
          key, text.str());
  return static_cast<int>(value);
}

/// Runs `body`, re-throwing its ConfigError one nesting level further out (under `prefix`).
template <class F>
void nested(const std::string& prefix, F&& body) {
  try {
    body();
  } catch (const ConfigError& e) {
    throw e.nested(prefix);
  }
}

}  // namespace xlstm::config_check
