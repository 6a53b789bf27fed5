#include "xlstm/components/ln.h"

#include "xlstm/components/dtype.h"

namespace xlstm {

LayerNormImpl::LayerNormImpl(LayerNormOptions options_) : options(options_) {
  const int64_t ndim = options.ndim();
  TORCH_CHECK(ndim > 0 || (!options.weight() && !options.bias()),
              "LayerNorm: ndim must be positive when it has a weight or bias, got ", ndim);
  if (options.weight()) weight = register_parameter("weight", torch::zeros({ndim}));
  if (options.bias()) bias = register_parameter("bias", torch::zeros({ndim}));
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(options.residual_weight() ? 0.0 : 1.0);
  if (bias.defined()) bias.zero_();
}

torch::Tensor LayerNormImpl::weight_proxy() const {
  if (!weight.defined()) return {};
  return options.residual_weight() ? 1.0 + weight : weight;
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  const int64_t ndim = options.ndim();
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == ndim, "LayerNorm: expected input [..., ", ndim,
              "], got ", x.sizes());
  const auto dtype = compute_dtype(x);
  return torch::layer_norm(x.to(dtype), {ndim}, cast_to(weight_proxy(), dtype),
                           cast_to(bias, dtype), options.eps())
      .to(x.scalar_type());
}

torch::Tensor MultiHeadLayerNormImpl::forward(const torch::Tensor& x) {
  const int64_t ndim = options.ndim();
  TORCH_CHECK(x.dim() == 4 && x.size(1) * x.size(3) == ndim,
              "MultiHeadLayerNorm: expected input [B, NH, S, DH] with NH * DH = ", ndim, ", got ",
              x.sizes());
  const int64_t batch = x.size(0), heads = x.size(1), seq = x.size(2), head_dim = x.size(3);
  const auto dtype = compute_dtype(x);
  const torch::Tensor flat = x.to(dtype).transpose(1, 2).reshape({batch * seq, heads, head_dim});
  // The official group norm (one group per head) as a layer norm over each head's values and the
  // per-channel affine after it: the same numbers, and on CUDA a much faster backward (ATen's
  // group-norm weight gradient reduces the batch*seq rows in few blocks).
  torch::Tensor out = torch::layer_norm(flat, {head_dim}, {}, {}, options.eps());
  const torch::Tensor weight_ = cast_to(weight_proxy(), dtype), bias_ = cast_to(bias, dtype);
  if (weight_.defined()) out = out * weight_.view({heads, head_dim});
  if (bias_.defined()) out = out + bias_.view({heads, head_dim});
  return out.view({batch, seq, heads, head_dim}).transpose(1, 2).to(x.scalar_type());
}

}  // namespace xlstm
