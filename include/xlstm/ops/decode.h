// The decode step's ops of xLSTM-Large as functions of tensors: the projections of a few rows of x
// (a batch of one position) with what follows them in the model fused into the product (the
// concatenation of several maps, the residual sum, the gated SiLU, soft-capping), and the mLSTM
// step with soft-capped gates read straight from the projection output. On CUDA tensors that need
// no gradient, with at most 16 rows of x, each is one kernel (kernels/gemv, kernels/mlstm;
// XLSTM_DECODE_KERNELS=0 switches them off), otherwise the ATen ops it replaces; the two give the
// same numbers up to the summation order of the products (docs/xlstm_large.md, "Speed").
#pragma once

#include <optional>
#include <utility>

#include <torch/torch.h>

#include "xlstm/ops/mlstm.h"

namespace xlstm::ops {

/// The parameters of one linear map: weight [N, K], bias [N] or undefined.
struct LinearWeights {
  torch::Tensor weight, bias;
};

/// Whether the kernels compute the linear maps `parts` of x [..., K] (and the ops below take
/// the kernels' path): x and every parameter CUDA tensors of one device and one dtype (float32,
/// bfloat16, float16), weights contiguous [N_i, K], at most 16 rows of x (x.numel() / K), at most 6
/// parts, nothing needing a gradient, and the environment variable XLSTM_DECODE_KERNELS not "0".
bool decode_kernels_take(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts);

/// x [..., K] -> [..., N_1 + N_2 + ...]: the maps `parts` applied to x, concatenated in order.
torch::Tensor linear_concat(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts);

/// residual + linear(x, map) (residual of the result's shape).
torch::Tensor linear_add(const torch::Tensor& x, const LinearWeights& map,
                         const torch::Tensor& residual);

/// silu(linear(x, gate)) * linear(x, up), the gated SiLU of the feedforward (gate and up of one
/// output size).
torch::Tensor linear_gated_silu(const torch::Tensor& x, const LinearWeights& gate,
                                const LinearWeights& up);

/// soft_cap(linear(x, map), cap), cap > 0.
torch::Tensor linear_soft_cap(const torch::Tensor& x, const LinearWeights& map, double cap);

namespace mlstm {

/// recurrent_step_stabilized from the pre-activations soft_cap(igate_preact, cap) and
/// soft_cap(fgate_preact, cap) (as given without a cap). On CUDA the step kernels cap them
/// themselves and read q, k, v and the gates in place from slices of a projection output.
std::pair<torch::Tensor, CellState> recurrent_step_soft_capped(
    const CellState& state, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact,
    std::optional<double> gate_soft_cap, double eps = 1e-6, const CellState* out = nullptr);

}  // namespace mlstm
}  // namespace xlstm::ops
