// The bridge to the decode matrix-vector kernels (kernels/gemv), used by the functions of
// xlstm/ops/decode.h on CUDA tensors. Declared for every build, defined only in builds with
// XLSTM_WITH_CUDA.
#pragma once

#include <torch/torch.h>

#include "xlstm/ops/decode.h"

namespace xlstm::ops::detail {

/// What follows the product in the kernel (kernels/gemv/gemv_kernels.h, Epilogue).
enum class GemvEpilogue { kNone, kResidual, kSoftCap, kGatedSilu };

/// decode_kernels_take without the environment switch.
bool gemv_kernels_apply(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts);

/// The maps `parts` of x concatenated, then the epilogue (residual [..., outputs] for kResidual,
/// cap for kSoftCap; kGatedSilu takes parts {gate, up}), by the kernels (arguments checked by the
/// caller).
torch::Tensor gemv_cuda(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts,
                        GemvEpilogue epilogue, const torch::Tensor& residual, double cap);

}  // namespace xlstm::ops::detail
