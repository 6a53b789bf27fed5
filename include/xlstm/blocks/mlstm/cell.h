// The mLSTM cell (Python blocks/mlstm/cell.py): gates from (q, k, v), a sequence backend, the
// multi-head output norm.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/torch.h>

#include "xlstm/blocks/mlstm/backends.h"
#include "xlstm/components/ln.h"
#include "xlstm/config/mlstm.h"

namespace xlstm {

/// Submodules `igate`, `fgate` (Linear(3 * embedding_dim, num_heads)) and `outnorm`
/// (MultiHeadLayerNorm(embedding_dim)). q, k, v are [B, S, embedding_dim]; outputs too.
class mLSTMCellImpl : public torch::nn::Module {
 public:
  explicit mLSTMCellImpl(mLSTMCellConfig config);

  /// The whole sequence (no history) by config.backend (see mlstm_backends()): with "auto" the
  /// chunkwise kernels where they apply, else parallel when S <= context_length, else chunkwise.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
  /// Chunkwise from `state` (undefined: the zero state C = n = m = 0), returning the final state.
  std::pair<torch::Tensor, mlstm::CellState> forward_with_state(const torch::Tensor& q,
                                                                const torch::Tensor& k,
                                                                const torch::Tensor& v,
                                                                const mlstm::CellState& state = {});
  /// One position (S = 1) from `state` (undefined: the zero state). `out`, when given, receives
  /// the new state (it may be `state` itself: updated in place; see recurrent_step_stabilized).
  std::pair<torch::Tensor, mlstm::CellState> step(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v,
                                                  const mlstm::CellState& state = {},
                                                  const mlstm::CellState* out = nullptr);

  /// outnorm reset; fgate weight 0, bias linspace(3, 6); igate weight 0, bias normal(0, 0.1).
  void reset_parameters();

  mLSTMCellConfig config;
  torch::nn::Linear igate{nullptr};
  torch::nn::Linear fgate{nullptr};
  MultiHeadLayerNorm outnorm{nullptr};
  /// tril(ones(context_length, context_length)) as bool; not registered, so it appears in no state
  /// dict (Python: a non-persistent buffer). Follows the inputs' device lazily.
  torch::Tensor causal_mask;
  /// Chunk length of the chunkwise backend.
  int64_t chunk_size = 64;

 private:
  struct Prepared {
    torch::Tensor q, k, v, igate_preact, fgate_preact;  // [B, NH, S, DH] / [B, NH, S, 1]
  };
  Prepared prepare(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) const;
  /// h [B, NH, S, DH] -> outnorm -> [B, S, NH * DH].
  torch::Tensor finish(const torch::Tensor& h);
  mlstm::CellState state_or_zeros(const mlstm::CellState& state, const torch::Tensor& q) const;
};
TORCH_MODULE(mLSTMCell);

}  // namespace xlstm
