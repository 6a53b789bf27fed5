// A minimal JSON reader and string quoting, enough for safetensors headers. Not a general library:
// object keys must be unique (a duplicate is an error), and numbers keep their literal text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xlstm::io::json {

struct Value {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;          // a string's value, or a number's literal text
  std::vector<Value> items;  // array elements
  std::vector<std::pair<std::string, Value>> members;  // object members in file order

  /// The member named `key` of an object, or nullptr.
  const Value* find(std::string_view key) const;
  /// A number that is a non-negative integer fitting in uint64 (no sign, fraction or exponent).
  std::optional<uint64_t> as_uint64() const;
};

/// Parses one JSON value followed only by whitespace. Throws std::runtime_error naming the byte
/// offset. Nesting deeper than 64 levels (no stack overflow) and more than 4,194,304 values (a
/// bounded memory) are refused.
Value parse(std::string_view text);

/// `s` as a JSON string literal, with quotes and escapes.
std::string quote(std::string_view s);

}  // namespace xlstm::io::json
