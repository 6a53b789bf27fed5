// mLSTMBlock (Python: blocks/mlstm/block.py): an xLSTMBlock with an mLSTM layer and no
// feed-forward.
#pragma once

#include "xlstm/blocks/xlstm_block.h"
#include "xlstm/config/xlstm.h"

namespace xlstm {

class mLSTMBlockImpl : public xLSTMBlockImpl {
 public:
  explicit mLSTMBlockImpl(const mLSTMBlockConfig& config)
      : xLSTMBlockImpl(to_xlstm_block_config(config)) {}
};
TORCH_MODULE(mLSTMBlock);

}  // namespace xlstm
