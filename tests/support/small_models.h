// Small model configs shared by the model tests.
#pragma once

#include "xlstm/config/xlstm.h"

namespace xlstm::testing {

/// Two blocks of 16 dimensions, an mLSTM block then an sLSTM block (vanilla backend), 2 heads each;
/// Config is xLSTMBlockStackConfig or xLSTMLMModelConfig.
template <class Config = xLSTMBlockStackConfig>
Config mlstm_slstm_config(int context_length) {
  Config config;
  config.mlstm_block = mLSTMBlockConfig{};
  config.mlstm_block->mlstm.num_heads = 2;
  config.slstm_block = sLSTMBlockConfig{};
  config.slstm_block->slstm.num_heads = 2;
  config.slstm_block->slstm.backend = "vanilla";
  config.num_blocks = 2;
  config.embedding_dim = 16;
  config.context_length = context_length;
  config.slstm_at.indices = {1};
  return config;
}

}  // namespace xlstm::testing
