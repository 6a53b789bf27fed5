// Configuration structs of the mLSTM blocks (Python: blocks/mlstm/{cell,layer,block}.py).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "xlstm/config/components.h"

namespace xlstm {

/// The mLSTM cell's sequence backend (docs/mlstm.md "Choosing a backend"). Not a key of the
/// official package: written to YAML only when set.
///   "auto" (or absent): the chunkwise kernels on CUDA where they apply, else "parallel" for
///   sequences up to context_length and "chunkwise" beyond;
///   "parallel": the quadratic parallel form (the official default) for every length;
///   "chunkwise": the chunkwise form (the kernels on CUDA where they apply, else ATen).
inline const std::vector<std::string>& mlstm_backends() {
  static const std::vector<std::string> names = {"auto", "parallel", "chunkwise"};
  return names;
}

struct mLSTMCellConfig {
  int context_length = -1;
  int embedding_dim = -1;
  int num_heads = -1;
  std::optional<std::string> backend;  // mlstm_backends(); absent: "auto"

  void finalize();
};

struct mLSTMLayerConfig : UpProjConfig {
  mLSTMLayerConfig() { proj_factor = 2.0; }

  int conv1d_kernel_size = 4;
  int qkv_proj_blocksize = 4;
  int num_heads = 4;

  int embedding_dim = -1;
  bool bias = false;
  double dropout = 0.0;
  int context_length = -1;
  std::optional<std::string> backend;  // mlstm_backends(); absent: "auto"

  int _num_blocks = 1;
  int _inner_embedding_dim = -1;  // derived: the up-projection size

  void finalize();
};

struct mLSTMBlockConfig {
  mLSTMLayerConfig mlstm;

  std::optional<int> _num_blocks;
  std::optional<int> _block_idx;

  void finalize();
};

}  // namespace xlstm
