#include "xlstm/components/dtype.h"

#include <stdexcept>

namespace xlstm {
namespace {

struct NamedDtype {
  const char* name;
  const char* short_name;
  torch::ScalarType dtype;
};

// clang-format off
constexpr NamedDtype kDtypes[] = {
    {"float32",  "f32",  torch::kFloat32},
    {"bfloat16", "bf16", torch::kBFloat16},
    {"float16",  "f16",  torch::kFloat16},
};
// clang-format on

}  // namespace

torch::ScalarType dtype_from_name(const std::string& name) {
  for (const NamedDtype& d : kDtypes) {
    if (name == d.name || name == d.short_name) return d.dtype;
  }
  throw std::invalid_argument("unknown dtype \"" + name +
                              "\" (choices: float32, bfloat16, float16, or f32, bf16, f16)");
}

std::string dtype_name(torch::ScalarType dtype) {
  for (const NamedDtype& d : kDtypes) {
    if (dtype == d.dtype) return d.name;
  }
  throw std::invalid_argument(std::string("dtype ") + c10::toString(dtype) +
                              " has no config name (float32, bfloat16 or float16)");
}

}  // namespace xlstm
