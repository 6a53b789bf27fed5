#include "xlstm/blocks/slstm/layer.h"

#include "layer_step_cpu.h"
#include "xlstm/components/dtype.h"
#include "xlstm/components/init.h"

namespace xlstm {
namespace {

torch::Tensor to_or_undefined(const torch::Tensor& t, torch::Device device,
                              c10::optional<torch::ScalarType> dtype) {
  if (!t.defined()) return t;
  return dtype ? t.to(device, *dtype) : t.to(device);
}

torch::Tensor detach_or_undefined(const torch::Tensor& t) {
  return t.defined() ? t.detach() : t;
}

LinearHeadwiseExpand gate_projection(const sLSTMLayerConfig& config) {
  LinearHeadwiseExpandConfig c;
  c.in_features = config.embedding_dim;
  c.num_heads = config.num_heads;
  c.bias = false;
  return LinearHeadwiseExpand(c);
}

}  // namespace

sLSTMState sLSTMState::to(torch::Device device, c10::optional<torch::ScalarType> dtype) const {
  return {to_or_undefined(y, device, dtype), to_or_undefined(c, device, dtype),
          to_or_undefined(n, device, dtype), to_or_undefined(m, device, dtype),
          to_or_undefined(conv, device, dtype)};
}

sLSTMState sLSTMState::detach() const {
  return {detach_or_undefined(y), detach_or_undefined(c), detach_or_undefined(n),
          detach_or_undefined(m), detach_or_undefined(conv)};
}

sLSTMLayerImpl::sLSTMLayerImpl(sLSTMLayerConfig config_) : config(std::move(config_)) {
  config.finalize();
  if (config.conv1d_kernel_size > 0) {
    CausalConv1dConfig conv_config;
    conv_config.feature_dim = config.embedding_dim;
    conv_config.kernel_size = config.conv1d_kernel_size;
    conv1d = register_module("conv1d", CausalConv1d(conv_config));
  }
  fgate = register_module("fgate", gate_projection(config));
  igate = register_module("igate", gate_projection(config));
  zgate = register_module("zgate", gate_projection(config));
  ogate = register_module("ogate", gate_projection(config));
  slstm_cell = register_module("slstm_cell", sLSTMCell(static_cast<sLSTMCellConfig>(config)));
  group_norm = register_module("group_norm",
                               MultiHeadLayerNorm(config.embedding_dim, config.group_norm_weight));
  dropout = register_module("dropout", torch::nn::Dropout(config.dropout));
}

void sLSTMLayerImpl::reset_parameters() {
  slstm_cell->reset_parameters();
  group_norm->reset_parameters();
  small_init_(igate->weight, config.embedding_dim);
  small_init_(fgate->weight, config.embedding_dim);
  small_init_(zgate->weight, config.embedding_dim);
  small_init_(ogate->weight, config.embedding_dim);
}

std::pair<torch::Tensor, sLSTMState> sLSTMLayerImpl::run(const torch::Tensor& x,
                                                         const sLSTMState& state,
                                                         bool single_step) {
  const int64_t B = x.size(0), S = x.size(1);
  const torch::Tensor input = x.to(compute_dtype(x));  // float16 on the CPU runs in float32
  torch::Tensor x_conv = input, conv_state;
  if (conv1d) {
    std::tie(x_conv, conv_state) = single_step ? conv1d->step(input, state.conv)
                                               : conv1d->forward_with_state(input, state.conv);
    x_conv = torch::silu(x_conv);
  }
  // The official layer feeds (fgate, igate, zgate, ogate) into the cell's slots (i, f, z, o).
  const torch::Tensor wx =
      torch::cat({fgate(x_conv), igate(x_conv), zgate(input), ogate(input)}, -1);
  const torch::Tensor cell_state =
      state.defined() ? torch::stack({state.y, state.c, state.n, state.m}) : torch::Tensor();
  auto [y, final_state] = slstm_cell(wx, cell_state);
  y = dropout(y);
  const torch::Tensor out = group_norm(y).transpose(1, 2).reshape({B, S, -1});
  sLSTMState next{final_state[0], final_state[1], final_state[2], final_state[3], conv_state};
  return {out.to(x.scalar_type()), next};
}

torch::Tensor sLSTMLayerImpl::forward(const torch::Tensor& x) {
  return forward_with_state(x).first;
}

std::pair<torch::Tensor, sLSTMState> sLSTMLayerImpl::forward_with_state(const torch::Tensor& x,
                                                                        const sLSTMState& state) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == config.embedding_dim, "sLSTMLayer: expected x [B, S, ",
              config.embedding_dim, "], got ", x.sizes());
  return run(x, state, /*single_step=*/false);
}

std::pair<torch::Tensor, sLSTMState> sLSTMLayerImpl::step(const torch::Tensor& x,
                                                          const sLSTMState& state) {
  TORCH_CHECK(x.dim() == 3 && x.size(1) == 1 && x.size(2) == config.embedding_dim,
              "sLSTMLayer::step: expected x [B, 1, ", config.embedding_dim, "], got ", x.sizes());
  if (slstm::fused_step_applies(*this, x, state)) return slstm::fused_step(*this, x, state);
  return run(x, state, /*single_step=*/true);
}

}  // namespace xlstm
