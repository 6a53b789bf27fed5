// The mLSTM layer (Python blocks/mlstm/layer.py): up-projection, causal conv, headwise q/k/v, the
// mLSTM cell, learnable skip, output gate, down-projection.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/blocks/mlstm/cell.h"
#include "xlstm/blocks/sequence_layer.h"
#include "xlstm/components/conv.h"
#include "xlstm/components/linear_headwise.h"
#include "xlstm/config/mlstm.h"
#include "xlstm/ops/mlstm_layer_step.h"

namespace xlstm {

/// Recurrent state of one mLSTM layer; undefined tensors mean the zero state.
///   C [B, NH, DH, DH], n [B, NH, DH, 1], m [B, NH, 1, 1]: the cell memory (stabilised, see
///   mlstm::CellState; float32 for bfloat16 / float16 inputs);
///   conv [B, KS, D_inner]: the last KS inputs of the causal conv (undefined when KS = 0).
/// step_in_place takes a preallocated state: all of these defined and contiguous (conv only with
/// KS > 0), e.g. a forward_with_state result cloned.
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
///
/// forward / forward_with_state / step (SequenceLayer) on x [B, S, D]: forward runs the cell's
/// backend (config.backend: the chunkwise kernels on CUDA where they apply, else the parallel
/// form when S <= context_length, else the chunkwise one); forward_with_state the chunkwise form
/// from the state; step the recurrent step.
class mLSTMLayerImpl : public SequenceLayer<mLSTMState> {
 public:
  explicit mLSTMLayerImpl(mLSTMLayerConfig config);

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
  std::pair<torch::Tensor, mLSTMState> run(const torch::Tensor& x, const mLSTMState& state,
                                           RunMode mode) override;
  /// Whether the step can take ops::mlstm::layer_step_cpu (x_inner = proj_up(x)): CPU, float32 /
  /// float64 throughout, a depthwise conv, square q / k / v projections, and no gradient needed.
  bool fused_step_applies(const torch::Tensor& x_inner, const mLSTMState& state) const;
  /// The layer's tensors as ops::mlstm's layer steps take them.
  ops::mlstm::LayerStepWeights step_weights() const;
  /// The gated cell output [B, 1, D_inner] and the next state by ops::mlstm::layer_step_cpu, or
  /// on CUDA by layer_step_cuda where it applies; nullopt where neither does. `in_place`: the
  /// next state written into `state`'s tensors.
  c10::optional<std::pair<torch::Tensor, mLSTMState>> fused_step(const torch::Tensor& x_inner,
                                                                 const mLSTMState& state,
                                                                 bool in_place) const;
  /// Throws unless `state` is a preallocated state for a batch of `batch` (step_in_place).
  void check_in_place_state(const mLSTMState& state, int64_t batch) const;
};
TORCH_MODULE(mLSTMLayer);

}  // namespace xlstm
