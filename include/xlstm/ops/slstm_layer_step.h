// One sLSTM layer step (conv, gate projections, cell, group norm) as a single raw-pointer CPU loop:
// the step path is bound by per-op overhead (dozens of tiny ATen ops), so fusing them pays. The
// same math as sLSTMLayer::step's ATen path (blocks/slstm/layer.h).
#pragma once

#include <cstdint>
#include <optional>

#include <torch/torch.h>

namespace xlstm::ops::slstm {

/// The layer's tensors in their module layouts (H = embedding dim = hidden size, NH heads of DH);
/// biases may be undefined.
struct LayerStepWeights {
  torch::Tensor conv_weight, conv_bias;  // depthwise causal conv [H, 1, KS], [H]; undefined: none
  torch::Tensor gate_weights[4];         // headwise [NH, DH, DH] of the cell slots i, f, z, o
  torch::Tensor recurrent_kernel;        // [NH, 4*DH, DH] (vanilla layout, slstm_recurrence.h)
  torch::Tensor bias;                    // [4H] gate-major
  torch::Tensor norm_weight, norm_bias;  // [H]: the applied scale and shift of the group norm
  double norm_eps = 1e-5;
  std::optional<double> forward_clipval;  // clip the hidden state y_t
};

/// The recurrent state of the step: y, c, n, m [B, H] (all undefined: the zero state) and the conv
/// window [B, KS, H] (undefined: zero).
struct LayerStepState {
  torch::Tensor y, c, n, m, conv;
};

struct LayerStepResult {
  torch::Tensor out;  // [B, 1, H]: the group-normed hidden state
  LayerStepState state;
};

/// x [B, 1, H] -> the layer's output and next state. The gate projections see the conv output
/// (slots i, f) or x (slots z, o), as the official layer feeds them. Every tensor a CPU tensor of
/// x's dtype (float32 or float64) that needs no gradient, shapes as above. `out`, when given: the
/// tensors the next state is written to (defined, the conv window only with a conv; contiguous;
/// they may be `state`'s own, which then is updated in place); else the next state is new tensors.
LayerStepResult layer_step_cpu(const LayerStepWeights& w, const torch::Tensor& x,
                               const LayerStepState& state, const LayerStepState* out = nullptr);

}  // namespace xlstm::ops::slstm
