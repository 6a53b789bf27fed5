// The building blocks of xLSTM-Large (Python: xlstm_large/components.py): soft-capping, RMSNorm,
// the multi-head layer norm, and a plain linear layer whose parameters are created on a given
// device and dtype (a 7B model is never materialised in float32 on the host first).
#pragma once

#include <optional>

#include <torch/torch.h>

namespace xlstm::large {

/// cap * tanh(values / cap) (Gemma 2's soft-capping); `values` unchanged without a cap.
torch::Tensor soft_cap(const torch::Tensor& values, std::optional<double> cap);

/// The arguments of the Python NormLayer.
struct NormOptions {
  /* implicit */ NormOptions(int64_t num_features = -1) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(bool, use_weight) = true;
  TORCH_ARG(bool, use_bias) = false;
  /// Normalise in float32 whatever the input dtype (the result is cast back before the affine).
  TORCH_ARG(bool, force_float32_reductions) = true;
  /// Device and dtype of the parameters.
  TORCH_ARG(torch::TensorOptions, parameter_options) = {};
};

/// x * rsqrt(mean(x^2) + eps) over the last dimension, then * weight (+ bias).
class RMSNormImpl : public torch::nn::Module {
 public:
  explicit RMSNormImpl(NormOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  NormOptions options;
  torch::Tensor weight, bias;  // [num_features]; undefined when not used
};
TORCH_MODULE(RMSNorm);

/// Layer norm of each head: x [B, S, NH, DH] normalised over DH -> [B, S, NH * DH], then * weight
/// (+ bias) over NH * DH (Python MultiHeadLayerNorm).
class MultiHeadLayerNormImpl : public torch::nn::Module {
 public:
  MultiHeadLayerNormImpl(int64_t num_heads, int64_t head_dim, NormOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  int64_t num_heads, head_dim;
  NormOptions options;
  torch::Tensor weight, bias;  // [NH * DH]; undefined when not used
};
TORCH_MODULE(MultiHeadLayerNorm);

/// y = x W^T (+ b) with W [out, in] (Python nn.Linear, the same default initialisation), its
/// parameters created with `parameter_options`.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias,
             const torch::TensorOptions& parameter_options = {});
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

/// A token embedding table `weight` [num_embeddings, dim] (Python nn.Embedding: N(0, 1) at init).
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t dim,
                const torch::TensorOptions& parameter_options = {});
  /// ids int64 [...] -> [..., dim] (ids are not range-checked here: the callers check them).
  torch::Tensor forward(const torch::Tensor& ids);
  void reset_parameters();

  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace xlstm::large
