// The 125M-like LM the peers' lm_step and lm_train measure (bench_peers.py lm_cfg()).
#pragma once

#include <xlstm/config/yaml.h>
#include <xlstm/xlstm.h>

namespace xlstm::bench {

/// bench_peers.py lm_cfg(): the official xLSTMLMModelConfig of the peers' lm_step / lm_train.
inline xLSTMLMModelConfig lm125m_config() {
  return from_yaml_string<xLSTMLMModelConfig>(
      "vocab_size: 50304\nembedding_dim: 768\nnum_blocks: 12\nslstm_at: [3, 9]\n"
      "context_length: 2048\n"
      "mlstm_block:\n  mlstm:\n    conv1d_kernel_size: 4\n    qkv_proj_blocksize: 4\n"
      "    num_heads: 4\n"
      "slstm_block:\n  slstm:\n    backend: cuda\n    num_heads: 4\n    conv1d_kernel_size: 4\n"
      "    bias_init: powerlaw_blockdependent\n  feedforward:\n    proj_factor: 1.3\n"
      "    act_fn: gelu\n",
      "lm125m");
}

}  // namespace xlstm::bench
