// Configuration structs of the mLSTM blocks (Python: blocks/mlstm/{cell,layer,block}.py).
#pragma once

#include <optional>

#include "xlstm/config/components.h"

namespace xlstm {

struct mLSTMCellConfig {
  int context_length = -1;
  int embedding_dim = -1;
  int num_heads = -1;

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
