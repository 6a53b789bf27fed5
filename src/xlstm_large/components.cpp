#include "xlstm/xlstm_large/components.h"

#include <cmath>

#include "xlstm/ops/norms.h"

namespace xlstm::large {

torch::Tensor soft_cap(const torch::Tensor& values, std::optional<double> cap) {
  return cap ? ops::soft_cap(values, *cap) : values;
}

namespace {

torch::Tensor norm_parameter(torch::nn::Module& module, const char* name, bool used,
                             const NormOptions& options) {
  if (!used) return {};
  return module.register_parameter(
      name, torch::empty({options.num_features()}, options.parameter_options()));
}

void reset_norm(torch::Tensor& weight, torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(1.0);
  if (bias.defined()) bias.zero_();
}

}  // namespace

RMSNormImpl::RMSNormImpl(NormOptions options_) : options(std::move(options_)) {
  TORCH_CHECK(options.num_features() > 0, "RMSNorm: num_features must be positive, got ",
              options.num_features());
  weight = norm_parameter(*this, "weight", options.use_weight(), options);
  bias = norm_parameter(*this, "bias", options.use_bias(), options);
  reset_parameters();
}

void RMSNormImpl::reset_parameters() {
  reset_norm(weight, bias);
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == options.num_features(),
              "RMSNorm: expected input [..., ", options.num_features(), "], got ", x.sizes());
  return ops::rms_norm(x, weight, bias, options.eps(), options.force_float32_reductions());
}

MultiHeadLayerNormImpl::MultiHeadLayerNormImpl(int64_t num_heads_, int64_t head_dim_,
                                               NormOptions options_)
    : num_heads(num_heads_), head_dim(head_dim_), options(std::move(options_)) {
  TORCH_CHECK(num_heads > 0 && head_dim > 0,
              "MultiHeadLayerNorm: num_heads and head_dim must be positive, got ", num_heads,
              " and ", head_dim);
  options.num_features(num_heads * head_dim);
  weight = norm_parameter(*this, "weight", options.use_weight(), options);
  bias = norm_parameter(*this, "bias", options.use_bias(), options);
  reset_parameters();
}

void MultiHeadLayerNormImpl::reset_parameters() {
  reset_norm(weight, bias);
}

torch::Tensor MultiHeadLayerNormImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(2) == num_heads && x.size(3) == head_dim,
              "MultiHeadLayerNorm: expected input [B, S, ", num_heads, ", ", head_dim, "], got ",
              x.sizes());
  return ops::multihead_norm(x, weight, bias, options.eps(), options.force_float32_reductions());
}

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias,
                       const torch::TensorOptions& parameter_options) {
  TORCH_CHECK(in_features > 0 && out_features > 0,
              "Linear: in_features and out_features must be positive, got ", in_features, " and ",
              out_features);
  weight =
      register_parameter("weight", torch::empty({out_features, in_features}, parameter_options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out_features}, parameter_options));
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  // nn.Linear.reset_parameters: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)).
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1)));
  weight.uniform_(-bound, bound);
  if (bias.defined()) bias.uniform_(-bound, bound);
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  return torch::linear(x, weight, bias);
}

EmbeddingImpl::EmbeddingImpl(int64_t num_embeddings, int64_t dim,
                             const torch::TensorOptions& parameter_options) {
  TORCH_CHECK(num_embeddings > 0 && dim > 0,
              "Embedding: num_embeddings and dim must be positive, got ", num_embeddings, " and ",
              dim);
  weight = register_parameter("weight", torch::empty({num_embeddings, dim}, parameter_options));
  reset_parameters();
}

void EmbeddingImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  weight.normal_();
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) {
  TORCH_CHECK(ids.scalar_type() == torch::kLong, "Embedding: token ids must be int64, got ",
              ids.scalar_type());
  return torch::embedding(weight, ids);
}

}  // namespace xlstm::large
