// The bridge to the norm kernels (kernels/norms), used by the functions of xlstm/ops/norms.h on
// CUDA tensors. Declared for every build, defined only in builds with XLSTM_WITH_CUDA.
#pragma once

#include <torch/torch.h>

namespace xlstm::ops::detail {

/// Whether the kernels take a call on `tensors` (undefined ones are absent optionals): every
/// defined one a non-empty CUDA tensor of at most INT_MAX elements, all on one device and of one
/// dtype (float32, bfloat16 or float16), none needing a gradient, and the environment variable
/// XLSTM_NORM_KERNELS not "0".
bool norm_kernels_apply(c10::ArrayRef<torch::Tensor> tensors);

/// rms_norm with float32 statistics, by the kernels (arguments checked by the caller).
torch::Tensor rms_norm_cuda(const torch::Tensor& x, const torch::Tensor& weight,
                            const torch::Tensor& bias, double eps);

/// multihead_norm (`o` undefined) or multihead_norm_gate with float32 statistics, by the kernels.
torch::Tensor multihead_norm_cuda(const torch::Tensor& h, const torch::Tensor& o,
                                  const torch::Tensor& weight, const torch::Tensor& bias,
                                  double eps);

/// gated_silu(gate, z) by the kernels.
torch::Tensor gated_silu_cuda(const torch::Tensor& gate, const torch::Tensor& z);

/// gated_silu(gate_z) by the kernels.
torch::Tensor gated_silu_fused_cuda(const torch::Tensor& gate_z);

/// soft_cap(x, cap) by the kernels.
torch::Tensor soft_cap_cuda(const torch::Tensor& x, double cap);

}  // namespace xlstm::ops::detail
