// The environment switches of the CUDA kernel families (XLSTM_NORM_KERNELS=0,
// XLSTM_DECODE_KERNELS=0, XLSTM_MLSTM_STEP_KERNEL=0, XLSTM_MLSTM_CHUNKWISE_KERNEL=0 turn one off;
// the ATen paths then run).
#pragma once

#include <cstdlib>
#include <string>

namespace xlstm::ops {

/// Whether the kernels behind the environment variable `name` are on: it is unset or not "0".
inline bool kernels_switched_on(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr || std::string(value) != "0";
}

}  // namespace xlstm::ops
