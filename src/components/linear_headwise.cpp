#include "xlstm/components/linear_headwise.h"

#include <cmath>

#include "xlstm/components/dtype.h"

namespace xlstm {

LinearHeadwiseExpandImpl::LinearHeadwiseExpandImpl(LinearHeadwiseExpandConfig config_)
    : config(std::move(config_)) {
  config.finalize();
  const int64_t heads = config.num_heads;
  weight = register_parameter(
      "weight", torch::empty({heads, config._out_features / heads, config.in_features / heads}),
      config.trainable_weight);
  if (config.bias) {
    bias = register_parameter("bias", torch::empty({config._out_features}), config.trainable_bias);
  }
  reset_parameters();
}

void LinearHeadwiseExpandImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, std::sqrt(2.0 / 5.0 / static_cast<double>(weight.size(2))));
  if (bias.defined()) bias.zero_();
}

torch::Tensor LinearHeadwiseExpandImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == config.in_features,
              "LinearHeadwiseExpand: expected input [..., ", config.in_features, "], got ",
              x.sizes());
  const int64_t heads = config.num_heads;
  auto out_shape = x.sizes().vec();
  out_shape.back() = config._out_features;
  // [N, NH, I] -> [NH, N, I] @ [NH, I, O] -> [NH, N, O] -> [N, NH * O]
  const auto dtype = compute_dtype(x);
  const torch::Tensor per_head = x.to(dtype).reshape({-1, heads, weight.size(2)}).transpose(0, 1);
  torch::Tensor y =
      torch::bmm(per_head, weight.to(dtype).transpose(1, 2)).transpose(0, 1).reshape(out_shape);
  if (bias.defined()) y = y + bias.to(dtype);
  return y.to(x.scalar_type());
}

}  // namespace xlstm
