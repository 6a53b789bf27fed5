// Block-diagonal ("headwise") linear projection (Python components/linear_headwise.py).
#pragma once

#include <torch/torch.h>

#include "xlstm/config/components.h"

namespace xlstm {

/// Splits the last dimension into num_heads blocks and projects each with its own matrix:
/// y[..., h, o] = sum_d x[..., h, d] weight[h, o, d] (+ bias). Parameters `weight`
/// [NH, out/NH, in/NH] and optional `bias` [out].
class LinearHeadwiseExpandImpl : public torch::nn::Module {
 public:
  explicit LinearHeadwiseExpandImpl(LinearHeadwiseExpandConfig config);

  /// x [..., in_features] -> [..., out_features].
  torch::Tensor forward(const torch::Tensor& x);
  /// weight ~ normal(0, sqrt(2 / 5 / (in/NH))), bias = 0.
  void reset_parameters();

  LinearHeadwiseExpandConfig config;
  torch::Tensor weight;
  torch::Tensor bias;  // undefined without bias
};
TORCH_MODULE(LinearHeadwiseExpand);

/// The headwise weight [NH, O, I] as the dense block-diagonal matrix [NH * O, NH * I] (zeros off
/// the blocks), differentiable in `weight`.
torch::Tensor block_diagonal_weight(const torch::Tensor& weight);

/// Whether LinearHeadwiseExpand computes `x` with one dense product over block_diagonal_weight
/// instead of NH batched ones: on CUDA, with blocks at most kDenseHeadwiseMaxBlock wide (the 125M
/// LM's q / k / v maps: 384 heads of 4) and at least kDenseHeadwiseMinRows rows (training,
/// prefill; a generation step keeps the batched products, which read NH times fewer weight
/// bytes). It does NH times the multiply-adds, which the tensor cores take in less time than NH
/// tiny products plus the transposes to and from their layout.
constexpr int64_t kDenseHeadwiseMaxBlock = 32;
constexpr int64_t kDenseHeadwiseMinRows = 1024;
bool headwise_uses_dense_product(const torch::Tensor& x, const torch::Tensor& weight);

}  // namespace xlstm
