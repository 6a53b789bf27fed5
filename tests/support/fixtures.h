// Shared test helpers: the golden reference fixtures (tests/data/reference) and tolerance checks.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/json.h"
#include "xlstm/io/safetensors.h"

namespace xlstm::testing {

inline std::string reference_dir(const std::string& name) {
  return std::string(XLSTM_TEST_DATA_DIR) + "/reference/" + name;
}

/// max |actual - expected| / max |expected|: the parity measure of the fixtures' README.
inline double max_rel_diff(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.detach().to(torch::kDouble), e = expected.detach().to(torch::kDouble);
  TORCH_CHECK(a.sizes() == e.sizes(), "shape ", a.sizes(), " vs expected ", e.sizes());
  const double scale = e.abs().max().item<double>();
  return (a - e).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  TORCH_CHECK(in, "cannot read ", path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The string array `key` of the fixture's meta.json (read with the library's JSON reader).
inline std::vector<std::string> json_string_array(const std::string& json, const std::string& key) {
  const io::json::Value root = io::json::parse(json);
  const io::json::Value* array = root.find(key);
  TORCH_CHECK(array && array->kind == io::json::Value::Kind::array, "no array ", key,
              " in meta.json");
  std::vector<std::string> items;
  for (const auto& item : array->items) items.push_back(item.text);
  return items;
}

/// The non-negative integer `key` of the fixture's meta.json.
inline int64_t json_int(const std::string& json, const std::string& key) {
  const io::json::Value root = io::json::parse(json);
  const io::json::Value* value = root.find(key);
  TORCH_CHECK(value && value->as_uint64(), "no integer ", key, " in meta.json");
  return static_cast<int64_t>(*value->as_uint64());
}

}  // namespace xlstm::testing
