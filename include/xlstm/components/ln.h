// Layer norms with an optional bias and a residual weight (Python components/ln.py).
#pragma once

#include <torch/torch.h>

namespace xlstm {

/// Layer norm over the last dimension `ndim`. Parameters `weight` [ndim] (when `weight`) and `bias`
/// [ndim] (when `bias`). With `residual_weight` the applied scale is 1 + weight and weight starts
/// at 0; otherwise the scale is weight, starting at 1.
class LayerNormImpl : public torch::nn::Module {
 public:
  explicit LayerNormImpl(int64_t ndim = -1, bool weight = true, bool bias = false,
                         double eps = 1e-5, bool residual_weight = true);

  /// x [..., ndim] -> [..., ndim].
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  /// The scale applied by the norm (1 + weight with residual_weight), undefined without weight.
  torch::Tensor weight_proxy() const;

  int64_t ndim;
  double eps;
  bool residual_weight;
  torch::Tensor weight;  // undefined when disabled
  torch::Tensor bias;    // undefined when disabled
};
TORCH_MODULE(LayerNorm);

/// Group norm over heads: input [B, NH, S, DH] normalised per (b, s, head) over DH, then scaled /
/// shifted per feature of the flattened NH * DH = ndim (Python MultiHeadLayerNorm).
class MultiHeadLayerNormImpl : public LayerNormImpl {
 public:
  using LayerNormImpl::LayerNormImpl;

  /// x [B, NH, S, DH] -> [B, NH, S, DH].
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(MultiHeadLayerNorm);

}  // namespace xlstm
