// One mLSTM layer step between the up- and the down-projection as a single raw-pointer CPU loop:
// the step path is bound by per-op overhead (dozens of tiny ATen ops per block), so fusing them
// pays. The same math as mLSTMLayer::step's ATen path (blocks/mlstm/layer.h).
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm {

/// The layer's tensors in their module layouts (F = inner embedding dim, NH = cell heads, QH =
/// heads of the q / k / v projections); biases may be undefined.
struct LayerStepWeights {
  torch::Tensor conv_weight, conv_bias;  // depthwise causal conv [F, 1, KS], [F]
  torch::Tensor q_weight, q_bias;        // headwise [QH, F/QH, F/QH], [F]; k and v alike
  torch::Tensor k_weight, k_bias;
  torch::Tensor v_weight, v_bias;
  torch::Tensor igate_weight, igate_bias;  // [NH, 3F], [NH]: gates from cat(q, k, v)
  torch::Tensor fgate_weight, fgate_bias;
  torch::Tensor norm_weight, norm_bias;  // [F]: the applied scale and shift of the output norm
  torch::Tensor learnable_skip;          // [F]
  int64_t num_heads = 1;                 // NH
  double norm_eps = 1e-5;
};

/// The recurrent state of the step: the cell memory (undefined: zero) and the conv window
/// [B, KS, F] (undefined: zero).
struct LayerStepState {
  CellState cell;
  torch::Tensor conv;
};

struct LayerStepResult {
  torch::Tensor h;  // [B, 1, F]
  LayerStepState state;
};

/// From x_inner = proj_up(x) [B, 1, 2F] = (x_mlstm, z): the gated cell output
/// (outnorm(h) + learnable_skip * silu(conv(x_mlstm))) * silu(z) and the next state. Every tensor a
/// CPU tensor of x_inner's dtype (float32 or float64) that needs no gradient, shapes as above.
/// `out`, when given: the tensors the next state is written to (all defined and contiguous; they
/// may be `state`'s own, which then is updated in place); else the next state is new tensors.
LayerStepResult layer_step_cpu(const LayerStepWeights& w, const torch::Tensor& x_inner,
                               const LayerStepState& state, const LayerStepState* out = nullptr);

/// Whether layer_step_cuda takes this step (never in a build without CUDA): x_inner [B, 1, 2F] and
/// every weight CUDA tensors of one device and one dtype (float32, bfloat16, float16), the shapes
/// above with square headwise blocks, a conv of at least one tap, the state defined (the cell
/// memory float32, the conv window of x_inner's dtype; `out`, when given, alike and contiguous),
/// sizes the kernels take (kernels/mlstm/layer_step_kernels.h), no gradient needed, and the
/// environment variable XLSTM_MLSTM_STEP_KERNEL not "0".
bool layer_step_cuda_applies(const LayerStepWeights& w, const torch::Tensor& x_inner,
                             const LayerStepState& state, const LayerStepState* out = nullptr);

/// layer_step_cpu's step by the CUDA layer step kernels (four launches), the cell memory in
/// float32: the same results up to the order of the sums, each value rounded to x_inner's dtype
/// where mLSTMLayer's ATen step stores it. Throws unless layer_step_cuda_applies.
LayerStepResult layer_step_cuda(const LayerStepWeights& w, const torch::Tensor& x_inner,
                                const LayerStepState& state, const LayerStepState* out = nullptr);

}  // namespace xlstm::ops::mlstm
