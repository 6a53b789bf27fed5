// Shared test helpers: the golden reference fixtures (tests/data/reference) and tolerance checks.
#pragma once

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

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

/// The string array `"key": ["a", "b"]` of a flat JSON document (the fixtures' meta.json).
inline std::vector<std::string> json_string_array(const std::string& json, const std::string& key) {
  std::smatch array;
  const std::regex array_re("\"" + key + "\"\\s*:\\s*\\[([^\\]]*)\\]");
  TORCH_CHECK(std::regex_search(json, array, array_re), "no array ", key, " in meta.json");
  std::vector<std::string> items;
  const std::string body = array[1];
  const std::regex item_re("\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), item_re);
       it != std::sregex_iterator(); ++it) {
    items.push_back((*it)[1]);
  }
  return items;
}

/// The integer `"key": 123` of a flat JSON document.
inline int64_t json_int(const std::string& json, const std::string& key) {
  std::smatch match;
  TORCH_CHECK(std::regex_search(json, match, std::regex("\"" + key + "\"\\s*:\\s*(-?[0-9]+)")),
              "no integer ", key, " in meta.json");
  return std::stoll(match[1]);
}

}  // namespace xlstm::testing
