#include "xlstm/blocks/mlstm/layer.h"

#include "xlstm/components/dtype.h"
#include "xlstm/components/init.h"
#include "xlstm/ops/decode.h"
#include "xlstm/ops/mlstm_layer_step.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm {
namespace {

LinearHeadwiseExpandConfig qkv_config(const mLSTMLayerConfig& config) {
  LinearHeadwiseExpandConfig headwise;
  headwise.in_features = config._inner_embedding_dim;
  headwise.num_heads = config._inner_embedding_dim / config.qkv_proj_blocksize;
  headwise.bias = config.bias;
  return headwise;
}

/// linear(x) with the layer's parameters cast to x's dtype; a step's few rows on CUDA take the
/// matrix-vector kernels of ops/decode.h where they apply.
torch::Tensor project(const torch::Tensor& x, const torch::nn::Linear& layer, bool stepping) {
  if (stepping && x.is_cuda()) {
    const ops::LinearWeights map{layer->weight, layer->bias};
    if (ops::decode_kernels_take(x, map)) return ops::linear_concat(x, map);
  }
  return linear_as_input(x, layer);
}

}  // namespace

mLSTMState mLSTMState::to(torch::Device device, c10::optional<torch::ScalarType> dtype) const {
  const auto to = [&](const torch::Tensor& t) { return ops::to_if_defined(t, device, dtype); };
  return {to(C), to(n), to(m), to(conv)};
}

mLSTMState mLSTMState::detach() const {
  const auto detach = ops::detach_if_defined;
  return {detach(C), detach(n), detach(m), detach(conv)};
}

mLSTMLayerImpl::mLSTMLayerImpl(mLSTMLayerConfig config_) : config(std::move(config_)) {
  config.finalize();
  const int64_t dim = config.embedding_dim, inner = config._inner_embedding_dim;
  proj_up = register_module(
      "proj_up", torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * inner).bias(config.bias)));
  q_proj = register_module("q_proj", LinearHeadwiseExpand(qkv_config(config)));
  k_proj = register_module("k_proj", LinearHeadwiseExpand(qkv_config(config)));
  v_proj = register_module("v_proj", LinearHeadwiseExpand(qkv_config(config)));
  CausalConv1dConfig conv_config;
  conv_config.feature_dim = static_cast<int>(inner);
  conv_config.kernel_size = config.conv1d_kernel_size;
  conv1d = register_module("conv1d", CausalConv1d(conv_config));
  mLSTMCellConfig cell_config;
  cell_config.context_length = config.context_length;
  cell_config.embedding_dim = static_cast<int>(inner);
  cell_config.num_heads = config.num_heads;
  cell_config.backend = config.backend;
  mlstm_cell = register_module("mlstm_cell", mLSTMCell(cell_config));
  learnable_skip = register_parameter("learnable_skip", torch::ones({inner}));
  proj_down = register_module(
      "proj_down", torch::nn::Linear(torch::nn::LinearOptions(inner, dim).bias(config.bias)));
  dropout = register_module("dropout", torch::nn::Dropout(config.dropout));
  reset_parameters();
}

void mLSTMLayerImpl::reset_parameters() {
  {
    torch::NoGradGuard no_grad;
    small_init_(proj_up->weight, config.embedding_dim);
    if (proj_up->bias.defined()) proj_up->bias.zero_();
    wang_init_(proj_down->weight, config.embedding_dim, config._num_blocks);
    if (proj_down->bias.defined()) proj_down->bias.zero_();
    learnable_skip.fill_(1.0);
    // The q / k / v projections use the embedding dim, not the inner one (as in Python).
    for (auto& proj : {q_proj, k_proj, v_proj}) {
      small_init_(proj->weight, config.embedding_dim);
      if (proj->bias.defined()) proj->bias.zero_();
    }
  }
  // Python's layer leaves the conv as constructed (nn.Conv1d's own reset) and resets the cell.
  mlstm_cell->reset_parameters();
}

bool mLSTMLayerImpl::fused_step_applies(const torch::Tensor& x_inner,
                                        const mLSTMState& state) const {
  const auto dtype = x_inner.scalar_type();
  if (!x_inner.device().is_cpu() || (dtype != torch::kFloat32 && dtype != torch::kFloat64))
    return false;
  if (!conv1d->conv || conv1d->config.channel_mixing) return false;
  const int64_t F = config._inner_embedding_dim, B = x_inner.size(0);
  for (const auto* proj : {&q_proj, &k_proj, &v_proj}) {
    if ((*proj)->config._out_features != F || (*proj)->config.in_features != F ||
        (*proj)->config.num_heads != q_proj->config.num_heads)
      return false;
  }
  if (state.conv.defined() &&
      state.conv.sizes() != c10::IntArrayRef({B, conv1d->config.kernel_size, F}))
    return false;
  if (state.defined()) {
    const int64_t NH = config.num_heads, DH = F / NH;
    if (state.C.sizes() != c10::IntArrayRef({B, NH, DH, DH}) ||
        state.n.sizes() != c10::IntArrayRef({B, NH, DH, 1}) ||
        state.m.sizes() != c10::IntArrayRef({B, NH, 1, 1}))
      return false;
  } else if (state.C.defined() || state.n.defined() || state.m.defined()) {
    return false;
  }
  return ops::cpu_loop_ready({state.C, state.n, state.m, state.conv, x_inner}, dtype) &&
         ops::cpu_loop_ready(parameters(), dtype);
}

void mLSTMLayerImpl::check_in_place_state(const mLSTMState& state, int64_t batch) const {
  const bool has_conv = static_cast<bool>(conv1d->conv);
  TORCH_CHECK(state.defined() && state.conv.defined() == has_conv,
              "mLSTMLayer::step_in_place: the state must be preallocated (C, n, m",
              has_conv ? " and conv" : "", " defined)");
  for (const auto& t : {state.C, state.n, state.m, state.conv})
    TORCH_CHECK(!t.defined() || (t.is_contiguous() && t.size(0) == batch),
                "mLSTMLayer::step_in_place: state tensors must be contiguous with batch ", batch,
                ", got ", t.sizes());
}

ops::mlstm::LayerStepWeights mLSTMLayerImpl::step_weights() const {
  const auto& cell = *mlstm_cell;
  ops::mlstm::LayerStepWeights w;
  w.conv_weight = conv1d->conv->weight;
  w.conv_bias = conv1d->conv->bias;
  w.q_weight = q_proj->weight;
  w.q_bias = q_proj->bias;
  w.k_weight = k_proj->weight;
  w.k_bias = k_proj->bias;
  w.v_weight = v_proj->weight;
  w.v_bias = v_proj->bias;
  w.igate_weight = cell.igate->weight;
  w.igate_bias = cell.igate->bias;
  w.fgate_weight = cell.fgate->weight;
  w.fgate_bias = cell.fgate->bias;
  w.norm_weight = cell.outnorm->weight_proxy();
  w.norm_bias = cell.outnorm->bias;
  w.learnable_skip = learnable_skip;
  w.num_heads = config.num_heads;
  w.norm_eps = cell.outnorm->options.eps();
  return w;
}

c10::optional<std::pair<torch::Tensor, mLSTMState>> mLSTMLayerImpl::fused_step(
    const torch::Tensor& x_inner, const mLSTMState& state, bool in_place) const {
  const bool on_cpu = fused_step_applies(x_inner, state);
  const bool maybe_cuda = !on_cpu && x_inner.is_cuda() && conv1d->conv &&
                          !conv1d->config.channel_mixing && q_proj->weight.dim() == 3;
  if (!on_cpu && !maybe_cuda) return c10::nullopt;
  const ops::mlstm::LayerStepWeights w = step_weights();
  const ops::mlstm::LayerStepState current{{state.C, state.n, state.m}, state.conv};
  const ops::mlstm::LayerStepState* out = in_place ? &current : nullptr;
  if (!on_cpu && !ops::mlstm::layer_step_cuda_applies(w, x_inner, current, out))
    return c10::nullopt;
  const ops::mlstm::LayerStepResult r = on_cpu
                                            ? ops::mlstm::layer_step_cpu(w, x_inner, current, out)
                                            : ops::mlstm::layer_step_cuda(w, x_inner, current, out);
  return std::make_pair(r.h,
                        mLSTMState{r.state.cell.C, r.state.cell.n, r.state.cell.m, r.state.conv});
}

std::pair<torch::Tensor, mLSTMState> mLSTMLayerImpl::run(const torch::Tensor& x,
                                                         const mLSTMState& state, RunMode mode) {
  const int64_t dim = config.embedding_dim, inner = config._inner_embedding_dim;
  TORCH_CHECK(x.dim() == 3 && x.size(2) == dim, "mLSTMLayer: expected input [B, S, ", dim,
              "], got ", x.sizes());
  const bool stepping = mode == RunMode::kStep || mode == RunMode::kStepInPlace;
  const bool in_place = mode == RunMode::kStepInPlace;
  TORCH_CHECK(!stepping || x.size(1) == 1, "mLSTMLayer::step: expected input [B, 1, ", dim,
              "], got ", x.sizes());
  if (in_place) check_in_place_state(state, x.size(0));
  const torch::Tensor input = x.to(compute_dtype(x));

  const torch::Tensor x_inner = project(input, proj_up, stepping);  // [B, S, 2 * D_inner]
  if (stepping) {
    if (auto fused = fused_step(x_inner, state, in_place))
      return {dropout(project(fused->first, proj_down, true)).to(x.scalar_type()), fused->second};
  }
  const torch::Tensor x_mlstm = x_inner.narrow(-1, 0, inner);
  const torch::Tensor z = x_inner.narrow(-1, inner, inner);

  mLSTMState next;
  torch::Tensor x_conv;
  if (mode == RunMode::kForward) {
    x_conv = conv1d(x_mlstm);
  } else {
    std::tie(x_conv, next.conv) = conv1d->forward_with_state(x_mlstm, state.conv);
    if (in_place && next.conv.defined()) next.conv = state.conv.copy_(next.conv);
  }
  const torch::Tensor x_conv_act = torch::silu(x_conv);
  const torch::Tensor q = q_proj(x_conv_act), k = k_proj(x_conv_act), v = v_proj(x_mlstm);

  torch::Tensor h_tilde;
  if (mode == RunMode::kForward) {
    h_tilde = mlstm_cell(q, k, v);
  } else {
    const mlstm::CellState cell_state{state.C, state.n, state.m};
    mlstm::CellState cell_next;
    std::tie(h_tilde, cell_next) =
        stepping ? mlstm_cell->step(q, k, v, cell_state, in_place ? &cell_state : nullptr)
                 : mlstm_cell->forward_with_state(q, k, v, cell_state);
    next.C = cell_next.C;
    next.n = cell_next.n;
    next.m = cell_next.m;
  }
  // Learnable skip around the cell, then the output gate silu(z).
  const torch::Tensor h =
      torch::addcmul(h_tilde, learnable_skip.to(x_conv_act.scalar_type()), x_conv_act) *
      torch::silu(z);
  const torch::Tensor y = dropout(linear_as_input(h, proj_down)).to(x.scalar_type());
  return {y, next};
}

}  // namespace xlstm
