// sLSTMBlock (Python: blocks/slstm/block.py): an xLSTMBlock with an sLSTM layer and (by default) a
// gated feed-forward.
#pragma once

#include "xlstm/blocks/xlstm_block.h"
#include "xlstm/config/xlstm.h"

namespace xlstm {

class sLSTMBlockImpl : public xLSTMBlockImpl {
 public:
  explicit sLSTMBlockImpl(const sLSTMBlockConfig& config)
      : xLSTMBlockImpl(to_xlstm_block_config(config)) {}
};
TORCH_MODULE(sLSTMBlock);

}  // namespace xlstm
