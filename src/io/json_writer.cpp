#include "json_writer.h"

#include <cmath>
#include <cstdio>

#include "json.h"

namespace xlstm::io::json {

ObjectWriter& ObjectWriter::member(std::string_view key, const std::string& value) {
  if (!members_.empty()) members_ += ", ";
  members_ += quote(key) + ": " + value;
  return *this;
}

ObjectWriter& ObjectWriter::integer(std::string_view key, int64_t value) {
  return member(key, std::to_string(value));
}

ObjectWriter& ObjectWriter::number(std::string_view key, double value) {
  if (!std::isfinite(value)) return member(key, "null");
  char text[32];
  std::snprintf(text, sizeof text, "%.12g", value);
  return member(key, text);
}

ObjectWriter& ObjectWriter::boolean(std::string_view key, bool value) {
  return member(key, value ? "true" : "false");
}

ObjectWriter& ObjectWriter::string(std::string_view key, std::string_view value) {
  return member(key, quote(value));
}

ObjectWriter& ObjectWriter::object(std::string_view key, const ObjectWriter& value) {
  return member(key, value.text());
}

}  // namespace xlstm::io::json
