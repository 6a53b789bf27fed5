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

}  // namespace xlstm
