#include "xlstm/xlstm_large/model.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "xlstm/ops/norms.h"

namespace xlstm::large {
namespace {

xLSTMLargeConfig finalized(xLSTMLargeConfig config) {
  config.finalize();
  return config;
}

NormOptions norm_options(const xLSTMLargeConfig& config, int64_t features,
                         const torch::TensorOptions& parameter_options) {
  return NormOptions(features)
      .eps(config.norm_eps)
      .use_bias(config.use_bias)
      .force_float32_reductions(config.norm_reduction_force_float32)
      .parameter_options(parameter_options);
}

/// [B, S, NH * DH] -> [B, NH, S, DH].
torch::Tensor heads_first(const torch::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
}

/// Gate pre-activations [B, S, NH] -> [B, NH, S, 1].
torch::Tensor gate_layout(const torch::Tensor& g) {
  return g.transpose(1, 2).unsqueeze(-1);
}

ops::LinearWeights maps_of(const Linear& linear) {
  return {linear->weight, linear->bias};
}

/// Rows first .. first + count - 1 of a linear map.
ops::LinearWeights rows_of(const Linear& linear, int64_t first, int64_t count) {
  const torch::Tensor& bias = linear->bias;
  return {linear->weight.narrow(0, first, count),
          bias.defined() ? bias.narrow(0, first, count) : torch::Tensor()};
}

/// Replaces the entries `prefix + part + suffix` for every part (all present, none of `fused`
/// yet) with their concatenation along dim 0 under `prefix + fused + suffix`.
void concatenate_entries(io::TensorMap& checkpoint, const std::string& prefix,
                         const std::vector<std::string>& parts, const std::string& fused,
                         const std::string& suffix) {
  if (checkpoint.count(prefix + fused + suffix)) return;
  std::vector<torch::Tensor> tensors;
  for (const auto& part : parts) {
    const auto found = checkpoint.find(prefix + part + suffix);
    if (found == checkpoint.end()) return;  // load_state_dict names what is missing
    tensors.push_back(found->second);
  }
  for (const auto& part : parts) checkpoint.erase(prefix + part + suffix);
  checkpoint[prefix + fused + suffix] = torch::cat(tensors, 0);
}

/// Renames `prefix + from + rest` to `prefix + to + rest` for every entry whose name continues the
/// prefix with `from`.
void rename_entries(io::TensorMap& checkpoint, const std::string& prefix, const std::string& from,
                    const std::string& to) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : checkpoint)
    if (name.compare(0, prefix.size() + from.size(), prefix + from) == 0) names.push_back(name);
  for (const auto& name : names) {
    auto node = checkpoint.extract(name);
    node.key() = prefix + to + name.substr(prefix.size() + from.size());
    checkpoint.insert(std::move(node));
  }
}

}  // namespace

xLSTMLargeState xLSTMLargeState::to(const torch::Device& device) const {
  xLSTMLargeState out;
  for (const auto& b : blocks)
    out.blocks.push_back({b.C.to(device), b.n.to(device), b.m.to(device)});
  return out;
}

xLSTMLargeState xLSTMLargeState::detach() const {
  xLSTMLargeState out;
  for (const auto& b : blocks) out.blocks.push_back({b.C.detach(), b.n.detach(), b.m.detach()});
  return out;
}

// ---- FeedForward ----------------------------------------------------------------------------

FeedForwardImpl::FeedForwardImpl(const xLSTMLargeConfig& config,
                                 const torch::TensorOptions& parameter_options)
    : up_proj_dim(config.ffn_dim()), fused(config.weight_mode == "fused") {
  const int64_t d = config.embedding_dim;
  if (fused) {
    proj_up_gate_z = register_module(
        "proj_up_gate_z", Linear(d, 2 * up_proj_dim, config.use_bias, parameter_options));
  } else {
    proj_up_gate =
        register_module("proj_up_gate", Linear(d, up_proj_dim, config.use_bias, parameter_options));
    proj_up =
        register_module("proj_up", Linear(d, up_proj_dim, config.use_bias, parameter_options));
  }
  proj_down =
      register_module("proj_down", Linear(up_proj_dim, d, config.use_bias, parameter_options));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  return proj_down(gated_up(x));
}

torch::Tensor FeedForwardImpl::forward_plus(const torch::Tensor& x, const torch::Tensor& residual) {
  return ops::linear_add(gated_up(x), maps_of(proj_down), residual);
}

torch::Tensor FeedForwardImpl::gated_up(const torch::Tensor& x) {
  if (x.is_cuda()) {
    const auto gate = fused ? rows_of(proj_up_gate_z, 0, up_proj_dim) : maps_of(proj_up_gate);
    const auto up = fused ? rows_of(proj_up_gate_z, up_proj_dim, up_proj_dim) : maps_of(proj_up);
    if (ops::decode_kernels_take(x, {gate, up})) return ops::linear_gated_silu(x, gate, up);
  }
  if (fused) return ops::gated_silu(proj_up_gate_z(x));
  return ops::gated_silu(proj_up_gate(x), proj_up(x));
}

void FeedForwardImpl::adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const {
  if (!fused) return;
  for (const char* suffix : {".weight", ".bias"})
    concatenate_entries(checkpoint, prefix, {"proj_up_gate", "proj_up"}, "proj_up_gate_z", suffix);
}

// ---- mLSTMLayer -----------------------------------------------------------------------------

mLSTMLayerImpl::mLSTMLayerImpl(const xLSTMLargeConfig& config_,
                               const torch::TensorOptions& parameter_options)
    : config(finalized(config_)), qk_dim(config.qk_dim()), v_dim(config.v_dim()) {
  const int64_t d = config.embedding_dim, heads = config.num_heads;
  const bool bias = config.use_bias;
  const auto linear = [&](const char* name, int64_t out, bool with_bias) {
    return register_module(name, Linear(d, out, with_bias, parameter_options));
  };
  if (config.weight_mode == "fused") {
    qkv_opreact = linear("qkv_opreact", 2 * qk_dim + 2 * v_dim, bias);
    ifgate_preact = linear("ifgate_preact", 2 * heads, true);
  } else {
    q = linear("q", qk_dim, bias);
    k = linear("k", qk_dim, bias);
    v = linear("v", v_dim, bias);
    ogate_preact = linear("ogate_preact", v_dim, bias);
    igate_preact = linear("igate_preact", heads, true);
    fgate_preact = linear("fgate_preact", heads, true);
  }
  multihead_norm = register_module(
      "multihead_norm",
      MultiHeadLayerNorm(heads, v_dim / heads, norm_options(config, v_dim, parameter_options)));
  out_proj = register_module("out_proj", Linear(v_dim, d, bias, parameter_options));
}

mLSTMLayerImpl::Projections mLSTMLayerImpl::project(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == config.embedding_dim,
              "mLSTMLayer: expected input [B, S, ", config.embedding_dim, "], got ", x.sizes());
  const int64_t heads = config.num_heads;
  torch::Tensor qx, kx, vx, o, i, f;
  if (qkv_opreact) {
    const auto parts = qkv_opreact(x).split_with_sizes({qk_dim, qk_dim, v_dim, v_dim}, -1);
    std::tie(qx, kx, vx, o) = std::make_tuple(parts[0], parts[1], parts[2], parts[3]);
    const auto gates = soft_cap(ifgate_preact(x), config.gate_soft_cap).split(heads, -1);
    std::tie(i, f) = std::make_tuple(gates[0], gates[1]);
  } else {
    std::tie(qx, kx, vx, o) = std::make_tuple(q(x), k(x), v(x), ogate_preact(x));
    i = soft_cap(igate_preact(x), config.gate_soft_cap);
    f = soft_cap(fgate_preact(x), config.gate_soft_cap);
  }
  return {heads_first(qx, heads), heads_first(kx, heads), heads_first(vx, heads), o,
          gate_layout(i),         gate_layout(f)};
}

std::vector<ops::LinearWeights> mLSTMLayerImpl::projection_maps() const {
  if (qkv_opreact) return {maps_of(qkv_opreact), maps_of(ifgate_preact)};
  return {
      maps_of(q),           maps_of(k), maps_of(v), maps_of(ogate_preact), maps_of(igate_preact),
      maps_of(fgate_preact)};
}

torch::Tensor mLSTMLayerImpl::output(const torch::Tensor& h, const torch::Tensor& o,
                                     const torch::Tensor& residual) {
  // h [B, NH, S, DHv] -> norm per head -> gated by sigmoid(o) -> out_proj.
  const NormOptions& norm = multihead_norm->options;
  const torch::Tensor gated =
      ops::multihead_norm_gate(h.transpose(1, 2), o, multihead_norm->weight, multihead_norm->bias,
                               norm.eps(), norm.force_float32_reductions());
  return residual.defined() ? ops::linear_add(gated, maps_of(out_proj), residual) : out_proj(gated);
}

std::pair<torch::Tensor, mLSTMLayerState> mLSTMLayerImpl::forward(const torch::Tensor& x,
                                                                  const mLSTMLayerState& state) {
  const Projections p = project(x);
  mLSTMLayerState start = state;
  if (!start.defined() && config.starts_from_zero_state())
    start = zero_state(x.size(0), x.device());
  torch::Tensor h;
  mLSTMLayerState next;
  if (x.size(1) == 1 && start.defined())
    std::tie(h, next) =
        ops::mlstm::recurrent_step_stabilized(start, p.q, p.k, p.v, p.i, p.f, config.eps);
  else
    std::tie(h, next) = ops::mlstm::chunkwise_stabilized(p.q, p.k, p.v, p.i, p.f, start,
                                                         chunk_size_for(x), config.eps);
  return {output(h, p.o), next};
}

torch::Tensor mLSTMLayerImpl::step_in_place(const torch::Tensor& x, const mLSTMLayerState& state) {
  return step_in_place_plus(x, state, {});
}

torch::Tensor mLSTMLayerImpl::step_in_place_plus(const torch::Tensor& x,
                                                 const mLSTMLayerState& state,
                                                 const torch::Tensor& residual) {
  TORCH_CHECK(x.dim() == 3 && x.size(1) == 1, "mLSTMLayer::step_in_place: expected [B, 1, D], got ",
              x.sizes());
  if (x.is_cuda() && ops::decode_kernels_take(x, projection_maps()))
    return decode_step(x, state, residual);
  const Projections p = project(x);
  const auto h =
      ops::mlstm::recurrent_step_stabilized(state, p.q, p.k, p.v, p.i, p.f, config.eps, &state)
          .first;
  return output(h, p.o, residual);
}

torch::Tensor mLSTMLayerImpl::decode_step(const torch::Tensor& x, const mLSTMLayerState& state,
                                          const torch::Tensor& residual) {
  // One product for q | k | v | o | i | f; the cell reads its slices in place and caps the gates.
  const int64_t heads = config.num_heads;
  const auto parts = ops::linear_concat(x, projection_maps())
                         .split_with_sizes({qk_dim, qk_dim, v_dim, v_dim, heads, heads}, -1);
  const auto h = ops::mlstm::recurrent_step_soft_capped(
                     state, heads_first(parts[0], heads), heads_first(parts[1], heads),
                     heads_first(parts[2], heads), gate_layout(parts[4]), gate_layout(parts[5]),
                     config.gate_soft_cap, config.eps, &state)
                     .first;
  return output(h, parts[3], residual);
}

int64_t mLSTMLayerImpl::chunk_size_for(const torch::Tensor& x) const {
  // chunk_size is a tiling parameter of the official kernels; every chunk size computes the same
  // numbers. On CUDA the ATen chunkwise form is bound by its sequential carry between chunks:
  // chunks of 256 took the 7B prefill of 2048 tokens from 162 to 78 ms on the H200
  // (docs/xlstm_large.md).
  constexpr int64_t kCudaChunk = 256;
  return x.is_cuda() ? std::max<int64_t>(config.chunk_size, kCudaChunk) : config.chunk_size;
}

mLSTMLayerState mLSTMLayerImpl::zero_state(int64_t batch, const torch::Device& device) const {
  // The state is kept in float32 (float64 for a float64 model) whatever inference_state_dtype
  // says: docs/xlstm_large.md.
  const auto dtype =
      out_proj->weight.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  return mLSTMLayerState::zeros(batch, config.num_heads, qk_dim / config.num_heads,
                                v_dim / config.num_heads,
                                torch::TensorOptions().dtype(dtype).device(device));
}

void mLSTMLayerImpl::adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const {
  if (!qkv_opreact) return;
  for (const char* suffix : {".weight", ".bias"}) {
    concatenate_entries(checkpoint, prefix, {"q", "k", "v", "ogate_preact"}, "qkv_opreact", suffix);
    concatenate_entries(checkpoint, prefix, {"igate_preact", "fgate_preact"}, "ifgate_preact",
                        suffix);
  }
}

// ---- mLSTMBlock -----------------------------------------------------------------------------

mLSTMBlockImpl::mLSTMBlockImpl(const xLSTMLargeConfig& config,
                               const torch::TensorOptions& parameter_options) {
  const int64_t d = config.embedding_dim;
  norm_mlstm = register_module("norm_mlstm", RMSNorm(norm_options(config, d, parameter_options)));
  mlstm_layer = register_module("mlstm_layer", mLSTMLayer(config, parameter_options));
  norm_ffn = register_module("norm_ffn", RMSNorm(norm_options(config, d, parameter_options)));
  ffn = register_module("ffn", FeedForward(config, parameter_options));
}

std::pair<torch::Tensor, mLSTMLayerState> mLSTMBlockImpl::forward(const torch::Tensor& x,
                                                                  const mLSTMLayerState& state) {
  auto [y, next] = mlstm_layer(norm_mlstm(x), state);
  const torch::Tensor h = x + y;
  return {h + ffn(norm_ffn(h)), next};
}

torch::Tensor mLSTMBlockImpl::step_in_place(const torch::Tensor& x, const mLSTMLayerState& state) {
  const torch::Tensor h = mlstm_layer->step_in_place_plus(norm_mlstm(x), state, x);
  return ffn->forward_plus(norm_ffn(h), h);
}

// ---- xLSTMLargeBlockStack -------------------------------------------------------------------

xLSTMLargeBlockStackImpl::xLSTMLargeBlockStackImpl(const xLSTMLargeConfig& config,
                                                   const torch::TensorOptions& parameter_options) {
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < config.num_blocks; ++i) {
    block_list_.push_back(mLSTMBlock(config, parameter_options));
    blocks->push_back(block_list_.back());
  }
  if (config.add_out_norm)
    out_norm = register_module(
        "out_norm", RMSNorm(norm_options(config, config.embedding_dim, parameter_options)));
}

std::pair<torch::Tensor, xLSTMLargeState> xLSTMLargeBlockStackImpl::forward(
    const torch::Tensor& x, const xLSTMLargeState& state) {
  TORCH_CHECK(state.empty() || state.blocks.size() == block_list_.size(),
              "xLSTMLargeBlockStack: the state holds ", state.blocks.size(),
              " blocks, the model has ", block_list_.size());
  torch::Tensor h = x;
  xLSTMLargeState next;
  for (size_t i = 0; i < block_list_.size(); ++i) {
    auto [y, block_state] = block_list_[i](h, state.empty() ? mLSTMLayerState{} : state.blocks[i]);
    h = y;
    next.blocks.push_back(std::move(block_state));
  }
  return {finish(h), std::move(next)};
}

torch::Tensor xLSTMLargeBlockStackImpl::step_in_place(const torch::Tensor& x,
                                                      const xLSTMLargeState& state) {
  TORCH_CHECK(state.blocks.size() == block_list_.size(),
              "xLSTMLargeBlockStack::step_in_place: the state holds ", state.blocks.size(),
              " blocks, the model has ", block_list_.size());
  torch::Tensor h = x;
  for (size_t i = 0; i < block_list_.size(); ++i)
    h = block_list_[i]->step_in_place(h, state.blocks[i]);
  return finish(h);
}

torch::Tensor xLSTMLargeBlockStackImpl::finish(const torch::Tensor& x) {
  return out_norm ? out_norm(x) : x;
}

// ---- xLSTMLarge -----------------------------------------------------------------------------

xLSTMLargeImpl::xLSTMLargeImpl(xLSTMLargeConfig config_,
                               const torch::TensorOptions& parameter_options)
    : config(finalized(std::move(config_))) {
  embedding = register_module(
      "embedding", Embedding(config.vocab_size, config.embedding_dim, parameter_options));
  backbone = register_module("backbone", xLSTMLargeBlockStack(config, parameter_options));
  lm_head = register_module(
      "lm_head", Linear(config.embedding_dim, config.vocab_size, false, parameter_options));
}

torch::Tensor xLSTMLargeImpl::forward(const torch::Tensor& ids) {
  return forward_with_state(ids).first;
}

std::pair<torch::Tensor, xLSTMLargeState> xLSTMLargeImpl::forward_with_state(
    const torch::Tensor& ids, const xLSTMLargeState& state) {
  TORCH_CHECK(ids.dim() == 2 && ids.scalar_type() == torch::kLong,
              "xLSTMLarge: expected token ids int64 [B, S], got ", ids.scalar_type(), " ",
              ids.sizes());
  auto [x, next] = backbone(embedding(ids), state);
  return {head(x), std::move(next)};
}

std::pair<torch::Tensor, xLSTMLargeState> xLSTMLargeImpl::last_logits_with_state(
    const torch::Tensor& ids, const xLSTMLargeState& state) {
  TORCH_CHECK(ids.dim() == 2 && ids.size(1) > 0 && ids.scalar_type() == torch::kLong,
              "xLSTMLarge: expected token ids int64 [B, S] with S > 0, got ", ids.scalar_type(),
              " ", ids.sizes());
  auto [x, next] = backbone(embedding(ids), state);
  return {head(x.narrow(1, x.size(1) - 1, 1)), std::move(next)};
}

std::pair<torch::Tensor, xLSTMLargeState> xLSTMLargeImpl::step(const torch::Tensor& ids,
                                                               const xLSTMLargeState& state) {
  TORCH_CHECK(ids.dim() == 2 && ids.size(1) == 1, "xLSTMLarge::step: expected ids [B, 1], got ",
              ids.sizes());
  return forward_with_state(ids, state.empty() ? zero_state(ids.size(0)) : state);
}

torch::Tensor xLSTMLargeImpl::step_in_place(const torch::Tensor& ids,
                                            const xLSTMLargeState& state) {
  TORCH_CHECK(ids.dim() == 2 && ids.size(1) == 1 && ids.scalar_type() == torch::kLong,
              "xLSTMLarge::step_in_place: expected ids int64 [B, 1], got ", ids.scalar_type(), " ",
              ids.sizes());
  return head(backbone->step_in_place(embedding(ids), state));
}

xLSTMLargeState xLSTMLargeImpl::zero_state(int64_t batch) const {
  xLSTMLargeState state;
  const auto device = embedding->weight.device();
  for (const auto& block : backbone->blocks->children())
    state.blocks.push_back(block->as<mLSTMBlock>()->mlstm_layer->zero_state(batch, device));
  return state;
}

void xLSTMLargeImpl::reset_parameters() {
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<Linear>()) linear->reset_parameters();
    if (auto* table = module->as<Embedding>()) table->reset_parameters();
    if (auto* rms = module->as<RMSNorm>()) rms->reset_parameters();
    if (auto* heads = module->as<MultiHeadLayerNorm>()) heads->reset_parameters();
  }
}

void xLSTMLargeImpl::adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const {
  rename_entries(checkpoint, prefix, "backbone.embeddings.", "embedding.");
  const std::string layer_infix = ".mlstm_layer.";
  std::set<std::string> layers;
  for (const auto& [name, tensor] : checkpoint) {
    const auto at = name.find(layer_infix);
    if (name.compare(0, prefix.size(), prefix) == 0 && at != std::string::npos)
      layers.insert(name.substr(0, at + layer_infix.size()));
  }
  for (const auto& layer : layers)
    for (const auto& [from, to] : {std::pair{"query.", "q."}, {"key.", "k."}, {"value.", "v."}})
      rename_entries(checkpoint, layer, from, to);
}

torch::Tensor xLSTMLargeImpl::head(const torch::Tensor& x) {
  const auto cap = config.output_logit_soft_cap;
  return cap ? ops::linear_soft_cap(x, maps_of(lm_head), *cap) : lm_head(x);
}

}  // namespace xlstm::large
