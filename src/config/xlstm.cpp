#include "xlstm/config/xlstm.h"

#include <sstream>

#include "check.h"

namespace xlstm {
using namespace config_check;

int xLSTMBlockConfig::embedding_dim() const {
  return mlstm ? mlstm->embedding_dim : slstm ? slstm->embedding_dim : -1;
}

void xLSTMBlockConfig::finalize() {
  require(mlstm || slstm, "", "either mlstm or slstm must be given");
  require(!(mlstm && slstm), "", "only one of mlstm and slstm may be given");
  if (mlstm) {
    if (_num_blocks) mlstm->_num_blocks = *_num_blocks;
    nested("mlstm", [&] { mlstm->finalize(); });
  }
  if (slstm) {
    if (_num_blocks) slstm->_num_blocks = *_num_blocks;
    if (_block_idx) slstm->_block_idx = *_block_idx;
    nested("slstm", [&] { slstm->finalize(); });
  }
  if (feedforward) {
    feedforward->embedding_dim = embedding_dim();
    if (_num_blocks) feedforward->_num_blocks = *_num_blocks;
    nested("feedforward", [&] { feedforward->finalize(); });
  }
}

xLSTMBlockConfig to_xlstm_block_config(const mLSTMBlockConfig& config) {
  xLSTMBlockConfig block;
  block.mlstm = config.mlstm;
  block._num_blocks = config._num_blocks;
  block._block_idx = config._block_idx;
  return block;
}

xLSTMBlockConfig to_xlstm_block_config(const sLSTMBlockConfig& config) {
  xLSTMBlockConfig block;
  block.slstm = config.slstm;
  block.feedforward = config.feedforward;
  block._num_blocks = config._num_blocks;
  block._block_idx = config._block_idx;
  return block;
}

std::vector<int> xLSTMBlockStackConfig::block_map() const {
  std::vector<int> map;
  std::istringstream in(_block_map);
  for (std::string item; std::getline(in, item, ',');) map.push_back(std::stoi(item));
  return map;
}

namespace {

// More blocks than any model has: the bound keeps finalize(), which builds the config of every
// block, and the block map small on a hostile num_blocks.
constexpr int kMaxBlocks = 1000;

/// Block `block_idx` of `stack`, of the kind `kind` (0 = mLSTM, 1 = sLSTM), finalized.
xLSTMBlockConfig finalized_block(const xLSTMBlockStackConfig& stack, int kind, int block_idx) {
  xLSTMBlockConfig block = kind == 0 ? to_xlstm_block_config(*stack.mlstm_block)
                                     : to_xlstm_block_config(*stack.slstm_block);
  block._num_blocks = stack.num_blocks;
  block._block_idx = block_idx;
  nested(kind == 0 ? "mlstm_block" : "slstm_block", [&] { block.finalize(); });
  return block;
}

}  // namespace

xLSTMBlockConfig xLSTMBlockStackConfig::block_config(int block_idx) const {
  const auto map = block_map();
  require(block_idx >= 0 && block_idx < static_cast<int>(map.size()), "num_blocks",
          "block index " + std::to_string(block_idx) + " out of range");
  return finalized_block(*this, map[block_idx], block_idx);
}

void xLSTMBlockStackConfig::finalize() {
  require(mlstm_block || slstm_block, "",
          "at least one of mlstm_block and slstm_block must be given");
  positive(num_blocks, "num_blocks");
  require(num_blocks <= kMaxBlocks, "num_blocks",
          std::to_string(num_blocks) + " is more than the limit of " + std::to_string(kMaxBlocks));
  positive(embedding_dim, "embedding_dim");
  probability(dropout, "dropout");
  if (mlstm_block) positive(context_length, "context_length");
  if (!mlstm_block) slstm_at = SlstmAt{true, {}};
  if (slstm_at.all) {
    slstm_at.indices.clear();
    for (int i = 0; i < num_blocks; ++i) slstm_at.indices.push_back(i);
    slstm_at.all = false;
  }

  std::vector<int> map(num_blocks, 0);
  for (size_t i = 0; i < slstm_at.indices.size(); ++i) {
    const int idx = slstm_at.indices[i];
    const std::string key = "slstm_at[" + std::to_string(i) + "]";
    require(idx >= 0 && idx < num_blocks, key,
            "sLSTM position " + std::to_string(idx) + " is outside 0.." +
                std::to_string(num_blocks - 1) + " (num_blocks = " + std::to_string(num_blocks) +
                ")");
    require(slstm_block.has_value(), key, "an sLSTM position is given but slstm_block is not");
    map[idx] = 1;
  }

  if (mlstm_block) {
    mlstm_block->mlstm.embedding_dim = embedding_dim;
    mlstm_block->mlstm.bias = bias;
    mlstm_block->mlstm.dropout = dropout;
    mlstm_block->mlstm.context_length = context_length;
    mlstm_block->_num_blocks = num_blocks;
    nested("mlstm_block", [&] { mlstm_block->finalize(); });
  }
  if (slstm_block) {
    slstm_block->slstm.dropout = dropout;
    slstm_block->slstm.embedding_dim = embedding_dim;
    slstm_block->_num_blocks = num_blocks;
    nested("slstm_block", [&] { slstm_block->finalize(); });
  }

  _block_map.clear();
  for (int i = 0; i < num_blocks; ++i) _block_map += (i ? "," : "") + std::to_string(map[i]);
  // Every block must be constructible (with the map at hand: block_config() parses it per call).
  for (int i = 0; i < num_blocks; ++i) finalized_block(*this, map[i], i);
}

void xLSTMLMModelConfig::finalize() {
  positive(vocab_size, "vocab_size");
  xLSTMBlockStackConfig::finalize();
}

}  // namespace xlstm
