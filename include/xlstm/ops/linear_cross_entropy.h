// The LM head and the cross entropy as one op, over chunks of rows: the mean over the counted
// targets of cross_entropy(hidden W^T, target) (16-bit logits taken to float32), as
// sequence_cross_entropy(head(hidden)) computes it, without the [N, V] logits (nor their float32
// copy, log-softmax and gradient) in memory at once: each chunk's logits are made, reduced to a
// log-sum-exp per row and dropped; the backward makes them again (one more matrix product) for
// softmax - one-hot.
#pragma once

#include <torch/torch.h>

#include <optional>

namespace xlstm::ops {

struct LinearCrossEntropyOptions {
  /// The dtype of the matrix products (the logits are rounded to it, then float32): under CUDA
  /// autocast its dtype, as the unfused head's linear runs in it; nullopt: compute_dtype(hidden).
  std::optional<torch::ScalarType> compute_dtype;
  int64_t ignore_index = -1;  ///< targets equal to it are not counted
  int64_t chunk_rows = 0;     ///< rows per chunk; 0: about 2^26 logits per chunk
};

/// hidden [..., D], weight [V, D], targets [...] (int64): the mean cross entropy (a float32 scalar,
/// float64 for float64 products), differentiable in hidden and weight.
torch::Tensor linear_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                   const torch::Tensor& targets,
                                   const LinearCrossEntropyOptions& options = {});

}  // namespace xlstm::ops
