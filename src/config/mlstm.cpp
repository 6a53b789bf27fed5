#include "xlstm/config/mlstm.h"

#include "check.h"

namespace xlstm {
using namespace config_check;

void mLSTMCellConfig::finalize() {
  positive(context_length, "context_length");
  positive(embedding_dim, "embedding_dim");
  positive(num_heads, "num_heads");
  divides(num_heads, embedding_dim, "num_heads", "embedding_dim");
  if (backend) one_of(*backend, mlstm_backends(), "backend");
}

void mLSTMLayerConfig::finalize() {
  positive(embedding_dim, "embedding_dim");
  non_negative(conv1d_kernel_size, "conv1d_kernel_size");
  positive(qkv_proj_blocksize, "qkv_proj_blocksize");
  positive(num_heads, "num_heads");
  probability(dropout, "dropout");
  if (backend) one_of(*backend, mlstm_backends(), "backend");
  positive(_num_blocks, "_num_blocks");
  require(proj_factor.has_value(), "proj_factor", "must be set");
  set_proj_up_dim(embedding_dim);
  _inner_embedding_dim = _proj_up_dim;
  positive(_inner_embedding_dim, "_inner_embedding_dim");
  divides(qkv_proj_blocksize, _inner_embedding_dim, "qkv_proj_blocksize", "_inner_embedding_dim");
  divides(num_heads, _inner_embedding_dim, "num_heads", "_inner_embedding_dim");
}

void mLSTMBlockConfig::finalize() {
  if (_num_blocks) mlstm._num_blocks = *_num_blocks;
  nested("mlstm", [&] { mlstm.finalize(); });
}

}  // namespace xlstm
