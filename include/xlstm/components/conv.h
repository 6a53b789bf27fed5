// Causal 1-d convolution over time (Python components/conv.py).
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/config/components.h"

namespace xlstm {

/// Causal convolution of a [B, S, F] sequence: y_t depends on x_{t-KS+1..t}. Depthwise
/// (groups = F) unless `channel_mixing`. Parameters as the Python module: `conv.weight`
/// [F, F/groups, KS], `conv.bias` [F]; kernel_size 0 is the identity without parameters.
///
/// State: conv_state [B, KS, F] holds the last KS inputs, the newest last (the Python `step`
/// layout); a zero tensor (or an undefined one) is the start of a sequence. Processing a sequence
/// in pieces with the carried state equals processing it whole.
class CausalConv1dImpl : public torch::nn::Module {
 public:
  explicit CausalConv1dImpl(CausalConv1dConfig config);

  /// x [B, S, F] -> [B, S, F], the sequence starting from a zero state.
  torch::Tensor forward(const torch::Tensor& x);
  /// x [B, S, F] continuing from conv_state -> (y [B, S, F], new conv_state [B, KS, F]).
  std::pair<torch::Tensor, torch::Tensor> forward_with_state(const torch::Tensor& x,
                                                             const torch::Tensor& conv_state);
  /// One position x [B, 1, F] -> (y [B, 1, F], new conv_state [B, KS, F]).
  std::pair<torch::Tensor, torch::Tensor> step(const torch::Tensor& x,
                                               const torch::Tensor& conv_state);

  /// nn.Conv1d's default initialisation (kaiming-uniform weight, uniform bias).
  void reset_parameters();

  CausalConv1dConfig config;
  torch::nn::Conv1d conv{nullptr};  // null when kernel_size == 0

 private:
  void check_input(const torch::Tensor& x) const;
  /// y_t = bias + sum_k W_k x_padded[t + k] for the S outputs of a left-padded input
  /// [B, KS-1+S, F].
  torch::Tensor convolve(const torch::Tensor& padded, int64_t seq_len) const;
};
TORCH_MODULE(CausalConv1d);

}  // namespace xlstm
