// One sLSTM layer step (conv, gate projections, cell, group norm) as a single raw-pointer CPU loop:
// the step path is bound by per-op overhead (dozens of tiny ATen ops), so fusing them pays.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/blocks/slstm/layer.h"

namespace xlstm::slstm {

/// Whether `layer.step(x, state)` can take the fused path: CPU, float32 / float64 throughout, a
/// depthwise conv or none, no active dropout, and no gradient needed.
bool fused_step_applies(const sLSTMLayerImpl& layer, const torch::Tensor& x,
                        const sLSTMState& state);

/// The layer's step output [B, 1, D] and next state; the same math as the ATen path.
std::pair<torch::Tensor, sLSTMState> fused_step(const sLSTMLayerImpl& layer, const torch::Tensor& x,
                                                const sLSTMState& state);

}  // namespace xlstm::slstm
