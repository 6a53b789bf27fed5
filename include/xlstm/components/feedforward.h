// Gated feed-forward network (Python components/feedforward.py).
#pragma once

#include <functional>
#include <string>

#include <torch/torch.h>

#include "xlstm/config/components.h"

namespace xlstm {

using ActivationFn = std::function<torch::Tensor(const torch::Tensor&)>;

/// The official `_act_fn_registry`: gelu (exact erf form), relu, relu^2, sigmoid, swish (silu),
/// selu. Throws std::invalid_argument naming the unknown activation.
ActivationFn get_act_fn(const std::string& act_fn_name);

/// y = dropout(proj_down(act(gate) * up)) with (gate, up) = split(proj_up(x)), each of size
/// _proj_up_dim. Submodules `proj_up` Linear(D, 2 * _proj_up_dim), `proj_down`
/// Linear(_proj_up_dim, D), `dropout`.
class GatedFeedForwardImpl : public torch::nn::Module {
 public:
  explicit GatedFeedForwardImpl(FeedForwardConfig config);

  /// x [..., D] -> [..., D].
  torch::Tensor forward(const torch::Tensor& x);
  /// proj_up: small_init(dim = D), proj_down: wang_init(dim = D, _num_blocks), biases 0.
  void reset_parameters();

  FeedForwardConfig config;
  torch::nn::Linear proj_up{nullptr};
  torch::nn::Linear proj_down{nullptr};
  torch::nn::Dropout dropout{nullptr};
  ActivationFn act_fn;
};
TORCH_MODULE(GatedFeedForward);

/// Python `create_feedforward`: the module for `config.ff_type` (only "ffn_gated").
GatedFeedForward create_feedforward(const FeedForwardConfig& config);

}  // namespace xlstm
