// The mLSTM cell's sequence backends under their Python names (blocks/mlstm/backends.py): thin
// entry points to the tensor ops of xlstm/ops/mlstm.h, where shapes and numerics are documented.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/ops/mlstm.h"

namespace xlstm::mlstm {

using ops::mlstm::CellState;
using ops::mlstm::chunkwise_stabilized;

/// Python `parallel_stabilized_simple`: ops::mlstm::parallel_stabilized.
inline torch::Tensor parallel_stabilized_simple(const torch::Tensor& queries,
                                                const torch::Tensor& keys,
                                                const torch::Tensor& values,
                                                const torch::Tensor& igate_preact,
                                                const torch::Tensor& fgate_preact,
                                                const torch::Tensor& lower_triangular_matrix = {},
                                                bool stabilize_rowwise = true, double eps = 1e-6) {
  return ops::mlstm::parallel_stabilized(queries, keys, values, igate_preact, fgate_preact,
                                         lower_triangular_matrix, stabilize_rowwise, eps);
}

/// Python `recurrent_step_stabilized_simple`: ops::mlstm::recurrent_step_stabilized.
inline std::pair<torch::Tensor, CellState> recurrent_step_stabilized_simple(
    const CellState& state, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, double eps = 1e-6,
    const CellState* out = nullptr) {
  return ops::mlstm::recurrent_step_stabilized(state, q, k, v, igate_preact, fgate_preact, eps,
                                               out);
}

}  // namespace xlstm::mlstm
