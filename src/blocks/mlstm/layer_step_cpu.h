// One mLSTM layer step between proj_up and proj_down as a single raw-pointer CPU loop: the step
// path is bound by per-op overhead (dozens of tiny ATen ops per block), so fusing them pays.
#pragma once

#include <tuple>

#include <torch/torch.h>

#include "xlstm/blocks/mlstm/layer.h"

namespace xlstm::mlstm {

/// Whether `layer.step(x)` with this up-projection and state can take the fused path: CPU,
/// float32 / float64 throughout, a depthwise conv, and no gradient needed.
bool fused_step_applies(const mLSTMLayerImpl& layer, const torch::Tensor& x_inner,
                        const mLSTMState& state);

/// From x_inner = proj_up(x) [B, 1, 2 * D_inner]: the gated cell output
/// (outnorm(h) + learnable_skip * silu(conv(x_mlstm))) * silu(z) [B, 1, D_inner] and the next
/// state; the same math as mLSTMLayerImpl::step's ATen path.
std::pair<torch::Tensor, mLSTMState> fused_step(const mLSTMLayerImpl& layer,
                                                const torch::Tensor& x_inner,
                                                const mLSTMState& state);

}  // namespace xlstm::mlstm
