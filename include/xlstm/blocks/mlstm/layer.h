// The mLSTM layer (Python blocks/mlstm/layer.py): up-projection, causal conv, headwise q/k/v, the
// mLSTM cell, learnable skip, output gate, down-projection.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/blocks/mlstm/cell.h"
#include "xlstm/components/conv.h"
#include "xlstm/components/linear_headwise.h"
#include "xlstm/config/mlstm.h"

namespace xlstm {

/// Recurrent state of one mLSTM layer; undefined tensors mean the zero state.
///   C [B, NH, DH, DH], n [B, NH, DH, 1], m [B, NH, 1, 1]: the cell memory (stabilised, see
///   mlstm::CellState; float32 for bfloat16 / float16 inputs);
///   conv [B, KS, D_inner]: the last KS inputs of the causal conv (undefined when KS = 0).
struct mLSTMState {
  torch::Tensor C, n, m, conv;

  bool defined() const { return C.defined() && n.defined() && m.defined(); }
  /// Every defined tensor moved to `device` (and cast to `dtype` when given).
  mLSTMState to(torch::Device device, c10::optional<torch::ScalarType> dtype = {}) const;
  /// Every defined tensor detached from the autograd graph (truncated backpropagation).
  mLSTMState detach() const;
};

/// Submodules and parameters under the Python names: `learnable_skip` [D_inner], `proj_up`
/// Linear(D, 2 * D_inner), `q_proj` / `k_proj` / `v_proj` LinearHeadwiseExpand(D_inner, heads =
/// D_inner / qkv_proj_blocksize), `conv1d` CausalConv1d(D_inner, conv1d_kernel_size), `mlstm_cell`,
/// `proj_down` Linear(D_inner, D), `dropout`.
class mLSTMLayerImpl : public torch::nn::Module {
 public:
  explicit mLSTMLayerImpl(mLSTMLayerConfig config);

  /// x [B, S, D] -> [B, S, D]: parallel when S <= context_length, chunkwise otherwise.
  torch::Tensor forward(const torch::Tensor& x);
  /// Chunkwise from `state`; returns the output and the state after the last position. Running a
  /// sequence in pieces with the carried state equals one run.
  std::pair<torch::Tensor, mLSTMState> forward_with_state(const torch::Tensor& x,
                                                          const mLSTMState& state = {});
  /// One position x [B, 1, D] -> (y [B, 1, D], new state).
  std::pair<torch::Tensor, mLSTMState> step(const torch::Tensor& x, const mLSTMState& state = {});

  /// As Python: small_init for proj_up / q,k,v (dim = embedding_dim), wang_init for proj_down,
  /// biases 0, learnable_skip 1, the conv's and the cell's own reset.
  void reset_parameters();

  mLSTMLayerConfig config;
  torch::Tensor learnable_skip;
  torch::nn::Linear proj_up{nullptr};
  LinearHeadwiseExpand q_proj{nullptr};
  LinearHeadwiseExpand k_proj{nullptr};
  LinearHeadwiseExpand v_proj{nullptr};
  CausalConv1d conv1d{nullptr};
  mLSTMCell mlstm_cell{nullptr};
  torch::nn::Linear proj_down{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  enum class Mode { kForward, kWithState, kStep };
  std::pair<torch::Tensor, mLSTMState> run(const torch::Tensor& x, const mLSTMState& state,
                                           Mode mode);
};
TORCH_MODULE(mLSTMLayer);

}  // namespace xlstm
