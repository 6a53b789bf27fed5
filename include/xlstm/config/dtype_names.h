// The dtype names of the configs and command lines (no LibTorch here: the config layer uses them for
// validation; components/dtype.h maps them to torch::ScalarType).
#pragma once

#include <string>
#include <vector>

namespace xlstm {

/// "float32", "bfloat16", "float16", in this order.
const std::vector<std::string>& dtype_names();

}  // namespace xlstm
