#include "xlstm/components/feedforward.h"

#include <stdexcept>

#include "xlstm/components/dtype.h"
#include "xlstm/components/init.h"

namespace xlstm {

ActivationFn get_act_fn(const std::string& act_fn_name) {
  if (act_fn_name == "gelu") return [](const torch::Tensor& x) { return torch::gelu(x); };
  if (act_fn_name == "relu") return [](const torch::Tensor& x) { return torch::relu(x); };
  if (act_fn_name == "relu^2")
    return [](const torch::Tensor& x) { return torch::relu(x).square(); };
  if (act_fn_name == "sigmoid") return [](const torch::Tensor& x) { return torch::sigmoid(x); };
  if (act_fn_name == "swish") return [](const torch::Tensor& x) { return torch::silu(x); };
  if (act_fn_name == "selu") return [](const torch::Tensor& x) { return torch::selu(x); };
  std::string names;
  for (const auto& name : feedforward_act_fn_names()) names += (names.empty() ? "" : ", ") + name;
  throw std::invalid_argument("Unknown activation function name \"" + act_fn_name +
                              "\". Available activation functions are: " + names);
}

GatedFeedForwardImpl::GatedFeedForwardImpl(FeedForwardConfig config_) : config(std::move(config_)) {
  config.finalize();
  const int64_t dim = config.embedding_dim, up_dim = config._proj_up_dim;
  proj_up = register_module(
      "proj_up", torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * up_dim).bias(config.bias)));
  proj_down = register_module(
      "proj_down", torch::nn::Linear(torch::nn::LinearOptions(up_dim, dim).bias(config.bias)));
  dropout = register_module("dropout", torch::nn::Dropout(config.dropout));
  act_fn = get_act_fn(config.act_fn);
  reset_parameters();
}

void GatedFeedForwardImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  small_init_(proj_up->weight, config.embedding_dim);
  if (proj_up->bias.defined()) proj_up->bias.zero_();
  wang_init_(proj_down->weight, config.embedding_dim, config._num_blocks);
  if (proj_down->bias.defined()) proj_down->bias.zero_();
}

torch::Tensor GatedFeedForwardImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == config.embedding_dim,
              "GatedFeedForward: expected input [..., ", config.embedding_dim, "], got ",
              x.sizes());
  const torch::Tensor input = x.to(compute_dtype(x));
  const auto gate_and_up = linear_as_input(input, proj_up).chunk(2, -1);
  const torch::Tensor hidden = act_fn(gate_and_up[0]) * gate_and_up[1];
  return dropout(linear_as_input(hidden, proj_down).to(x.scalar_type()));
}

GatedFeedForward create_feedforward(const FeedForwardConfig& config) {
  if (config.ff_type != "ffn_gated") {
    throw std::invalid_argument("Unknown feedforward type \"" + config.ff_type + "\"");
  }
  return GatedFeedForward(config);
}

}  // namespace xlstm
