// Configuration structs of the xLSTM block, block stack and LM model (Python:
// blocks/xlstm_block.py, xlstm_block_stack.py, xlstm_lm_model.py).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "xlstm/config/mlstm.h"
#include "xlstm/config/slstm.h"

namespace xlstm {

/// One block: exactly one of mlstm / slstm, plus an optional feed-forward.
struct xLSTMBlockConfig {
  std::optional<mLSTMLayerConfig> mlstm;
  std::optional<sLSTMLayerConfig> slstm;
  std::optional<FeedForwardConfig> feedforward;

  std::optional<int> _num_blocks;
  std::optional<int> _block_idx;

  int embedding_dim() const;
  void finalize();
};

/// The xLSTMBlock config that an mLSTM / sLSTM block config stands for (not yet finalized).
xLSTMBlockConfig to_xlstm_block_config(const mLSTMBlockConfig& config);
xLSTMBlockConfig to_xlstm_block_config(const sLSTMBlockConfig& config);

/// Python `slstm_at`: a list of block indices, or the string "all".
struct SlstmAt {
  bool all = false;
  std::vector<int> indices;

  bool operator==(const SlstmAt& other) const {
    return all == other.all && indices == other.indices;
  }
};

struct xLSTMBlockStackConfig {
  std::optional<mLSTMBlockConfig> mlstm_block;
  std::optional<sLSTMBlockConfig> slstm_block;

  int context_length = -1;
  int num_blocks = 1;
  int embedding_dim = 128;
  bool add_post_blocks_norm = true;
  bool bias = false;
  double dropout = 0.0;

  SlstmAt slstm_at;  // after finalize(): the explicit index list

  std::string _block_map;  // derived: "0,1,0,..." (0 = mLSTM, 1 = sLSTM)

  /// The parsed `_block_map`: 0 = mLSTM block, 1 = sLSTM block, one entry per block.
  std::vector<int> block_map() const;
  /// The finalized config of block `block_idx` as the stack builds it (template + `_block_idx`).
  xLSTMBlockConfig block_config(int block_idx) const;

  void finalize();
};

struct xLSTMLMModelConfig : xLSTMBlockStackConfig {
  int vocab_size = -1;
  bool tie_weights = false;
  bool weight_decay_on_embedding = false;
  bool add_embedding_dropout = false;

  void finalize();
};

}  // namespace xlstm
