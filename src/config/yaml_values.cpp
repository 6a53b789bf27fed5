// Scalars and lists between the YAML tree and C++ values, type-checked like dacite's strict mode.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "../io/input_file.h"
#include "yaml_fields.h"

namespace xlstm::yaml_detail {
namespace {

std::string without_underscores(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  return text;
}

int64_t parse_integer(const Node& node, const Place& place, int64_t lo, int64_t hi) {
  if (node.kind != Node::Kind::Int)
    throw place.error(node, "expected an integer, got " + describe(node));
  errno = 0;
  const long long value = std::strtoll(without_underscores(node.text).c_str(), nullptr, 10);
  if (errno == ERANGE || value < lo || value > hi)
    throw place.error(node, "integer " + shortened(node.text) + " is out of range");
  return value;
}

double parse_number(const Node& node, const Place& place) {
  if (node.kind != Node::Kind::Int && node.kind != Node::Kind::Float)
    throw place.error(node, "expected a number, got " + describe(node));
  std::string text = without_underscores(node.text);
  const bool negative = !text.empty() && text[0] == '-';
  const std::string body = text.substr(!text.empty() && (text[0] == '-' || text[0] == '+'));
  if (body == ".inf" || body == ".Inf" || body == ".INF")
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  if (body == ".nan" || body == ".NaN" || body == ".NAN")
    return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(text.c_str(), nullptr);
}

/// The shortest text that reads back as exactly `value`, always recognisable as a float.
std::string float_text(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text = buffer;
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

void read_value(const Node& node, int& value, const Place& place) {
  value = static_cast<int>(
      parse_integer(node, place, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

void read_value(const Node& node, int64_t& value, const Place& place) {
  value = parse_integer(node, place, std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<int64_t>::max());
}

void read_value(const Node& node, double& value, const Place& place) {
  value = parse_number(node, place);
}

void read_value(const Node& node, bool& value, const Place& place) {
  if (node.kind != Node::Kind::Bool)
    throw place.error(node, "expected a boolean, got " + describe(node));
  const char first = node.text[0];
  value = first == 't' || first == 'T' || first == 'y' || first == 'Y' || node.text == "on" ||
          node.text == "On" || node.text == "ON";
}

void read_value(const Node& node, std::string& value, const Place& place) {
  if (node.kind != Node::Kind::String)
    throw place.error(node, "expected a string, got " + describe(node));
  value = node.text;
}

void read_value(const Node& node, std::vector<double>& value, const Place& place) {
  value.clear();
  if (node.kind != Node::Kind::Sequence) {
    value.push_back(parse_number(node, place));
    return;
  }
  for (size_t i = 0; i < node.items.size(); ++i)
    value.push_back(parse_number(node.items[i], place.child("[" + std::to_string(i) + "]")));
}

void read_value(const Node& node, SlstmAt& value, const Place& place) {
  value = SlstmAt{};
  if (node.kind == Node::Kind::String && node.text == "all") {
    value.all = true;
    return;
  }
  if (node.kind != Node::Kind::Sequence)
    throw place.error(node, "expected a list of block indices or 'all', got " + describe(node));
  for (size_t i = 0; i < node.items.size(); ++i) {
    value.indices.emplace_back();
    read_value(node.items[i], value.indices.back(), place.child("[" + std::to_string(i) + "]"));
  }
}

void write_value(Emitter& out, int value) {
  out << value;
}

void write_value(Emitter& out, int64_t value) {
  out << value;
}

void write_value(Emitter& out, double value) {
  out << float_text(value);
}

void write_value(Emitter& out, bool value) {
  out << (value ? "true" : "false");
}

void write_value(Emitter& out, const std::string& value) {
  // A literal `${` is escaped so that loading the output does not interpolate it.
  std::string text;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value.compare(i, 2, "${") == 0) text += '\\';
    text += value[i];
  }
  // Quote what would otherwise read back as null, a boolean or a number.
  if (plain_scalar_kind(text) != Node::Kind::String) out << YAML::DoubleQuoted;
  out << text;
}

void write_value(Emitter& out, const std::vector<double>& value) {
  if (value.size() == 1) return write_value(out, value[0]);
  out << YAML::Flow << YAML::BeginSeq;
  for (double item : value) write_value(out, item);
  out << YAML::EndSeq;
}

void write_value(Emitter& out, const SlstmAt& value) {
  if (value.all) return write_value(out, std::string("all"));
  out << YAML::Flow << YAML::BeginSeq;
  for (int index : value.indices) out << index;
  out << YAML::EndSeq;
}

std::string read_text_file(const std::string& path) {
  try {
    return io::InputFile(path).read_all(limits::kDocumentBytes);
  } catch (const std::runtime_error& e) {
    throw ConfigError("", e.what(), path);
  }
}

}  // namespace xlstm::yaml_detail
