#include "xlstm/components/linear_headwise.h"

#include <cmath>

#include "../ops/cpu_math.h"
#include "xlstm/components/dtype.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm {

namespace {

/// Whether `x` has at most a few rows and no gradient is needed: then a raw loop is cheapest.
bool use_row_loop(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  constexpr int64_t kMaxRows = 16;
  const auto dtype = x.scalar_type();
  if (dtype != torch::kFloat32 && dtype != torch::kFloat64) return false;
  return x.numel() <= kMaxRows * x.size(-1) && ops::cpu_loop_ready({x, weight, bias}, dtype);
}

}  // namespace

torch::Tensor block_diagonal_weight(const torch::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 3, "block_diagonal_weight: expected [NH, O, I], got ",
              weight.sizes());
  const int64_t heads = weight.size(0), O = weight.size(1), I = weight.size(2);
  // dense[h * O + o, g * I + i] = weight[h, o, i] * (h == g)
  const torch::Tensor eye = torch::eye(heads, weight.options()).view({heads, 1, heads, 1});
  return (weight.unsqueeze(2) * eye).reshape({heads * O, heads * I});
}

bool headwise_uses_dense_product(const torch::Tensor& x, const torch::Tensor& weight) {
  const int64_t rows = x.size(-1) > 0 ? x.numel() / x.size(-1) : 0;
  return x.is_cuda() && weight.size(0) > 1 && weight.size(2) <= kDenseHeadwiseMaxBlock &&
         rows >= kDenseHeadwiseMinRows;
}

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
  if (use_row_loop(x, weight, bias)) {
    // A few positions without autograd (the step path): a raw loop beats bmm + transposes.
    const torch::Tensor in = x.contiguous();
    torch::Tensor y = torch::empty(out_shape, x.options());
    const int64_t rows = x.numel() / config.in_features, O = weight.size(1), I = weight.size(2);
    const torch::Tensor w = weight.contiguous(), b = ops::contiguous_if_defined(bias);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "linear_headwise_rows", [&] {
      const scalar_t* b_ptr = ops::data_or_null<scalar_t>(b);
      for (int64_t r = 0; r < rows; ++r) {
        ops::headwise_row(in.data_ptr<scalar_t>() + r * config.in_features, w.data_ptr<scalar_t>(),
                          b_ptr, heads, O, I, y.data_ptr<scalar_t>() + r * config._out_features);
      }
    });
    return y;
  }
  if (headwise_uses_dense_product(x, weight)) {
    const torch::Tensor y =
        torch::linear(x.to(dtype), block_diagonal_weight(weight.to(dtype)), cast_to(bias, dtype));
    return y.to(x.scalar_type());
  }
  const torch::Tensor per_head = x.to(dtype).reshape({-1, heads, weight.size(2)}).transpose(0, 1);
  torch::Tensor y =
      torch::bmm(per_head, weight.to(dtype).transpose(1, 2)).transpose(0, 1).reshape(out_shape);
  if (bias.defined()) y = y + bias.to(dtype);
  return y.to(x.scalar_type());
}

}  // namespace xlstm
