// Fuzz target: the JSON reader (safetensors headers, checkpoint manifests). The one error it may
// give is a std::runtime_error; every string it reads survives quote() and parse() unchanged.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "io/json.h"

namespace {

using xlstm::io::json::Value;

void check_strings(const Value& value) {
  if (value.kind == Value::Kind::string &&
      xlstm::io::json::parse(xlstm::io::json::quote(value.text)).text != value.text)
    std::abort();
  for (const auto& item : value.items) check_strings(item);  // depth <= 64: parse checked it
  for (const auto& [key, member] : value.members) {
    if (xlstm::io::json::parse(xlstm::io::json::quote(key)).text != key) std::abort();
    check_strings(member);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Value value;
  try {
    value = xlstm::io::json::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::runtime_error&) {
    return 0;
  }
  check_strings(value);
  return 0;
}
