// The bridge to the mLSTM step kernels (kernels/mlstm), used by recurrent_step_stabilized on CUDA
// tensors. Declared for every build, defined only in builds with XLSTM_WITH_CUDA.
#pragma once

#include <utility>

#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm::detail {

/// Whether the kernels take this step: CUDA tensors, q / k / v of one kernel element type, a
/// float32 state (and `out`, when given, float32 and contiguous), head_dim within the kernels'
/// limit, no gradient needed, and the environment variable XLSTM_MLSTM_STEP_KERNEL not "0".
bool step_kernel_applies(const CellState& state, const torch::Tensor& q, const torch::Tensor& k,
                         const torch::Tensor& v, const torch::Tensor& igate_preact,
                         const torch::Tensor& fgate_preact, const CellState* out);

/// recurrent_step_stabilized by the kernels (same arguments and results), the gate
/// pre-activations soft-capped first when gate_soft_cap > 0 (as ops::soft_cap would). q, k and v
/// are read in place when each position's heads are contiguous (slices of a projection output),
/// the gates in place in their dtype whatever their strides.
std::pair<torch::Tensor, CellState> recurrent_step_cuda(
    const CellState& state, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, double eps,
    const CellState* out, double gate_soft_cap = 0);

}  // namespace xlstm::ops::mlstm::detail
