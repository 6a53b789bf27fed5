#include "xlstm/blocks/slstm/layer.h"

#include "xlstm/components/dtype.h"
#include "xlstm/components/init.h"
#include "xlstm/ops/slstm_layer_step.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm {
namespace {

LinearHeadwiseExpand gate_projection(const sLSTMLayerConfig& config) {
  LinearHeadwiseExpandConfig c;
  c.in_features = config.embedding_dim;
  c.num_heads = config.num_heads;
  c.bias = false;
  return LinearHeadwiseExpand(c);
}

}  // namespace

sLSTMState sLSTMState::to(torch::Device device, c10::optional<torch::ScalarType> dtype) const {
  const auto to = [&](const torch::Tensor& t) { return ops::to_if_defined(t, device, dtype); };
  return {to(y), to(c), to(n), to(m), to(conv)};
}

sLSTMState sLSTMState::detach() const {
  const auto detach = ops::detach_if_defined;
  return {detach(y), detach(c), detach(n), detach(m), detach(conv)};
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
  group_norm = register_module(
      "group_norm",
      MultiHeadLayerNorm(LayerNormOptions(config.embedding_dim).weight(config.group_norm_weight)));
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

bool sLSTMLayerImpl::fused_step_applies(const torch::Tensor& x, const sLSTMState& state) const {
  const auto dtype = x.scalar_type();
  if (!x.device().is_cpu() || (dtype != torch::kFloat32 && dtype != torch::kFloat64)) return false;
  if (is_training() && config.dropout > 0) return false;
  if (conv1d && conv1d->config.channel_mixing) return false;
  const int64_t B = x.size(0), H = config.embedding_dim;
  if (state.defined()) {
    for (const auto& t : {state.y, state.c, state.n, state.m}) {
      if (!t.defined() || t.sizes() != c10::IntArrayRef({B, H})) return false;
    }
  } else if (state.c.defined() || state.n.defined() || state.m.defined()) {
    return false;
  }
  if (state.conv.defined() &&
      (!conv1d || state.conv.sizes() != c10::IntArrayRef({B, config.conv1d_kernel_size, H})))
    return false;
  return ops::cpu_loop_ready({x, state.y, state.c, state.n, state.m, state.conv}, dtype) &&
         ops::cpu_loop_ready(parameters(), dtype);
}

void sLSTMLayerImpl::check_in_place_state(const sLSTMState& state, int64_t batch) const {
  const bool has_conv = static_cast<bool>(conv1d);
  TORCH_CHECK(state.y.defined() && state.c.defined() && state.n.defined() && state.m.defined() &&
                  state.conv.defined() == has_conv,
              "sLSTMLayer::step_in_place: the state must be preallocated (y, c, n, m",
              has_conv ? " and conv" : "", " defined)");
  for (const auto& t : {state.y, state.c, state.n, state.m, state.conv})
    TORCH_CHECK(!t.defined() || (t.is_contiguous() && t.size(0) == batch),
                "sLSTMLayer::step_in_place: state tensors must be contiguous with batch ", batch,
                ", got ", t.sizes());
}

std::pair<torch::Tensor, sLSTMState> sLSTMLayerImpl::fused_step(const torch::Tensor& x,
                                                                const sLSTMState& state,
                                                                bool in_place) const {
  ops::slstm::LayerStepWeights w;
  if (conv1d) {
    w.conv_weight = conv1d->conv->weight;
    w.conv_bias = conv1d->conv->bias;
  }
  // The official layer feeds (fgate, igate, zgate, ogate) into the cell's slots (i, f, z, o).
  w.gate_weights[0] = fgate->weight;
  w.gate_weights[1] = igate->weight;
  w.gate_weights[2] = zgate->weight;
  w.gate_weights[3] = ogate->weight;
  w.recurrent_kernel = slstm_cell->_recurrent_kernel_;
  w.bias = slstm_cell->_bias_;
  w.norm_weight = group_norm->weight_proxy();
  w.norm_bias = group_norm->bias;
  w.norm_eps = group_norm->options.eps();
  w.forward_clipval = config.forward_clipval;
  const ops::slstm::LayerStepState current{state.y, state.c, state.n, state.m, state.conv};
  const ops::slstm::LayerStepResult r =
      ops::slstm::layer_step_cpu(w, x, current, in_place ? &current : nullptr);
  return {r.out, {r.state.y, r.state.c, r.state.n, r.state.m, r.state.conv}};
}

std::pair<torch::Tensor, sLSTMState> sLSTMLayerImpl::run(const torch::Tensor& x,
                                                         const sLSTMState& state, RunMode mode) {
  const int64_t dim = config.embedding_dim;
  TORCH_CHECK(x.dim() == 3 && x.size(2) == dim, "sLSTMLayer: expected input [B, S, ", dim,
              "], got ", x.sizes());
  const bool stepping = mode == RunMode::kStep || mode == RunMode::kStepInPlace;
  const bool in_place = mode == RunMode::kStepInPlace;
  TORCH_CHECK(!stepping || x.size(1) == 1, "sLSTMLayer::step: expected input [B, 1, ", dim,
              "], got ", x.sizes());
  if (in_place) check_in_place_state(state, x.size(0));
  if (stepping && fused_step_applies(x, state)) return fused_step(x, state, in_place);
  const int64_t B = x.size(0), S = x.size(1);
  const torch::Tensor input = x.to(compute_dtype(x));  // float16 on the CPU runs in float32
  torch::Tensor x_conv = input, conv_state;
  if (conv1d) {
    std::tie(x_conv, conv_state) =
        stepping ? conv1d->step(input, state.conv) : conv1d->forward_with_state(input, state.conv);
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
  if (in_place) {  // the small state is copied in; the step kernels take no output state
    const std::pair<const torch::Tensor*, const torch::Tensor*> copies[] = {
        {&state.y, &next.y},
        {&state.c, &next.c},
        {&state.n, &next.n},
        {&state.m, &next.m},
        {&state.conv, &next.conv}};
    for (const auto& [to, from] : copies)
      if (to->defined()) to->copy_(*from);
    next = state;
  }
  return {out.to(x.scalar_type()), next};
}

}  // namespace xlstm
