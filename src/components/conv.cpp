#include "xlstm/components/conv.h"

#include "xlstm/components/dtype.h"

namespace xlstm {

CausalConv1dImpl::CausalConv1dImpl(CausalConv1dConfig config_) : config(std::move(config_)) {
  config.finalize();
  if (config.kernel_size == 0) return;
  const int64_t groups = config.channel_mixing ? 1 : config.feature_dim;
  conv = register_module(
      "conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(config.feature_dim, config.feature_dim,
                                                         config.kernel_size)
                                    .padding(config.kernel_size - 1)
                                    .groups(groups)
                                    .bias(config.causal_conv_bias)));
}

void CausalConv1dImpl::reset_parameters() {
  if (conv) conv->reset_parameters();
}

void CausalConv1dImpl::check_input(const torch::Tensor& x) const {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == config.feature_dim,
              "CausalConv1d: expected input [B, S, ", config.feature_dim, "], got ", x.sizes());
}

torch::Tensor CausalConv1dImpl::convolve(const torch::Tensor& padded, int64_t seq_len) const {
  const int64_t ks = config.kernel_size;
  const auto dtype = compute_dtype(padded);
  const torch::Tensor input = padded.to(dtype);
  const torch::Tensor weight = conv->weight.to(dtype);  // [F, F/groups, KS]
  torch::Tensor y;
  const bool half = dtype == torch::kBFloat16 || dtype == torch::kHalf;
  if (padded.is_cuda() && half && !config.channel_mixing && seq_len > 1) {
    // bf16 / fp16 on CUDA: one depthwise convolution (few kernels forward and backward instead of
    // a multiply-add per tap; float32 stays on the tap loop, which no TF32 setting affects).
    namespace F = torch::nn::functional;
    y = F::conv1d(input.transpose(1, 2), weight, F::Conv1dFuncOptions().groups(config.feature_dim))
            .transpose(1, 2)
            .contiguous();
  } else if (seq_len == 1 && !config.channel_mixing) {
    // One position (step): the window [B, KS, F] times the weights [KS, F], summed over KS.
    y = (input * weight.select(1, 0).t()).sum(1, /*keepdim=*/true);
  } else {
    for (int64_t k = 0; k < ks; ++k) {
      const torch::Tensor x_k = input.narrow(1, k, seq_len);
      if (config.channel_mixing) {
        const torch::Tensor w_k = weight.select(2, k).t();  // [F_in, F_out]
        y = k == 0 ? torch::matmul(x_k, w_k) : y.add_(torch::matmul(x_k, w_k));
      } else {
        const torch::Tensor w_k = weight.select(1, 0).select(1, k);  // [F]
        y = k == 0 ? x_k * w_k : y.addcmul_(x_k, w_k);
      }
    }
  }
  if (config.causal_conv_bias) y.add_(conv->bias.to(dtype));
  return y.to(padded.scalar_type());
}

torch::Tensor CausalConv1dImpl::forward(const torch::Tensor& x) {
  check_input(x);
  if (!conv) return x;
  const torch::Tensor padded = torch::constant_pad_nd(x, {0, 0, config.kernel_size - 1, 0});
  return convolve(padded, x.size(1));
}

std::pair<torch::Tensor, torch::Tensor> CausalConv1dImpl::forward_with_state(
    const torch::Tensor& x, const torch::Tensor& conv_state) {
  check_input(x);
  if (!conv) return {x, conv_state};
  const int64_t ks = config.kernel_size;
  if (!conv_state.defined()) {
    const torch::Tensor padded = torch::constant_pad_nd(x, {0, 0, ks, 0});
    return {convolve(padded.narrow(1, 1, padded.size(1) - 1), x.size(1)),
            padded.narrow(1, padded.size(1) - ks, ks)};
  }
  TORCH_CHECK(conv_state.dim() == 3 && conv_state.size(0) == x.size(0) &&
                  conv_state.size(1) == ks && conv_state.size(2) == config.feature_dim,
              "CausalConv1d: expected conv_state [", x.size(0), ", ", ks, ", ", config.feature_dim,
              "], got ", conv_state.sizes());
  const torch::Tensor joined = torch::cat({conv_state.to(x.dtype()), x}, 1);  // [B, KS+S, F]
  return {convolve(joined.narrow(1, 1, joined.size(1) - 1), x.size(1)),
          joined.narrow(1, joined.size(1) - ks, ks)};
}

std::pair<torch::Tensor, torch::Tensor> CausalConv1dImpl::step(const torch::Tensor& x,
                                                               const torch::Tensor& conv_state) {
  TORCH_CHECK(x.dim() == 3 && x.size(1) == 1, "CausalConv1d::step: expected input [B, 1, F], got ",
              x.sizes());
  return forward_with_state(x, conv_state);
}

}  // namespace xlstm
