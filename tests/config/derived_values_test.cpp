#include <gtest/gtest.h>

#include "xlstm/config/xlstm.h"

namespace xlstm {
namespace {

xLSTMBlockStackConfig readme_stack() {
  xLSTMBlockStackConfig cfg;
  cfg.mlstm_block = mLSTMBlockConfig{};
  cfg.mlstm_block->mlstm.conv1d_kernel_size = 4;
  cfg.mlstm_block->mlstm.qkv_proj_blocksize = 4;
  cfg.mlstm_block->mlstm.num_heads = 4;
  cfg.slstm_block = sLSTMBlockConfig{};
  cfg.slstm_block->slstm.backend = "vanilla";
  cfg.slstm_block->slstm.num_heads = 4;
  cfg.slstm_block->feedforward->proj_factor = 1.3;
  cfg.context_length = 256;
  cfg.num_blocks = 7;
  cfg.embedding_dim = 128;
  cfg.slstm_at.indices = {1};
  return cfg;
}

TEST(DerivedValues, ReadmeStack) {
  auto cfg = readme_stack();
  cfg.finalize();
  EXPECT_EQ(cfg._block_map, "0,1,0,0,0,0,0");
  EXPECT_EQ(cfg.mlstm_block->mlstm._inner_embedding_dim, 256);
  EXPECT_EQ(cfg.mlstm_block->mlstm.context_length, 256);
  EXPECT_EQ(cfg.slstm_block->feedforward->_proj_up_dim, 192);  // ceil(1.3*128/64)*64
  EXPECT_EQ(cfg.slstm_block->slstm.hidden_size, 128);
  EXPECT_EQ(*cfg.slstm_block->slstm.dtype_g, "bfloat16");
  const auto block = cfg.block_config(1);
  EXPECT_EQ(block.slstm->_block_idx, 1);
  EXPECT_EQ(block.slstm->_num_blocks, 7);
  EXPECT_EQ(block.feedforward->_num_blocks, 7);
}

}  // namespace
}  // namespace xlstm
