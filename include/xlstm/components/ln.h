// Layer norms with an optional bias and a residual weight (Python components/ln.py).
#pragma once

#include <torch/torch.h>

namespace xlstm {

/// The arguments of the Python LayerNorm: `LayerNormOptions(dim).bias(true)`; a plain `dim`
/// converts to the defaults.
struct LayerNormOptions {
  /* implicit */ LayerNormOptions(int64_t ndim = -1) : ndim_(ndim) {}
  /// The normalised (last) dimension.
  TORCH_ARG(int64_t, ndim);
  /// A learnable scale `weight` [ndim].
  TORCH_ARG(bool, weight) = true;
  /// A learnable shift `bias` [ndim].
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(double, eps) = 1e-5;
  /// The applied scale is 1 + weight and weight starts at 0 (otherwise the scale is weight,
  /// starting at 1).
  TORCH_ARG(bool, residual_weight) = true;
};

/// Layer norm over the last dimension `ndim`, with the parameters `weight` and `bias` that the
/// options ask for.
class LayerNormImpl : public torch::nn::Module {
 public:
  explicit LayerNormImpl(LayerNormOptions options = {});

  /// x [..., ndim] -> [..., ndim].
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  /// The scale applied by the norm (1 + weight with residual_weight), undefined without weight.
  torch::Tensor weight_proxy() const;

  LayerNormOptions options;
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
