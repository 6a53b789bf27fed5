#include "xlstm/blocks/mlstm/cell.h"

#include "xlstm/components/dtype.h"
#include "xlstm/components/init.h"

namespace xlstm {

mLSTMCellImpl::mLSTMCellImpl(mLSTMCellConfig config_) : config(std::move(config_)) {
  config.finalize();
  const int64_t gate_in = 3 * static_cast<int64_t>(config.embedding_dim);
  igate = register_module("igate", torch::nn::Linear(gate_in, config.num_heads));
  fgate = register_module("fgate", torch::nn::Linear(gate_in, config.num_heads));
  outnorm = register_module(
      "outnorm",
      MultiHeadLayerNorm(LayerNormOptions(config.embedding_dim).weight(true).bias(false)));
  causal_mask = torch::ones({config.context_length, config.context_length}, torch::kBool).tril();
  reset_parameters();
}

void mLSTMCellImpl::reset_parameters() {
  outnorm->reset_parameters();
  torch::NoGradGuard no_grad;
  fgate->weight.zero_();
  bias_linspace_init_(fgate->bias, 3.0, 6.0);
  igate->weight.zero_();
  igate->bias.normal_(0.0, 0.1);
}

mLSTMCellImpl::Prepared mLSTMCellImpl::prepare(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v) const {
  const int64_t dim = config.embedding_dim, heads = config.num_heads;
  TORCH_CHECK(q.dim() == 3 && q.size(2) == dim, "mLSTMCell: expected q [B, S, ", dim, "], got ",
              q.sizes());
  TORCH_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(),
              "mLSTMCell: k and v must be shaped like q ", q.sizes(), ", got ", k.sizes(), " and ",
              v.sizes());
  const int64_t batch = q.size(0), seq = q.size(1);
  // Gate pre-activations from cat(q, k, v), each [B, S, NH] -> [B, NH, S, 1].
  const torch::Tensor gate_input = torch::cat({q, k, v}, -1).to(compute_dtype(q));
  const auto gate = [&](const torch::nn::Linear& linear) {
    return linear_as_input(gate_input, linear).transpose(-1, -2).unsqueeze(-1);
  };
  const auto by_head = [&](const torch::Tensor& x) {
    return x.reshape({batch, seq, heads, dim / heads}).transpose(1, 2);
  };
  return {by_head(q), by_head(k), by_head(v), gate(igate), gate(fgate)};
}

torch::Tensor mLSTMCellImpl::finish(const torch::Tensor& h) {
  const int64_t batch = h.size(0), seq = h.size(2);
  return outnorm(h).transpose(1, 2).reshape({batch, seq, config.embedding_dim});
}

mlstm::CellState mLSTMCellImpl::state_or_zeros(const mlstm::CellState& state,
                                               const torch::Tensor& q) const {
  if (state.defined()) return state;
  const auto options = q.options().dtype(torch::promote_types(q.scalar_type(), torch::kFloat32));
  return mlstm::CellState::zeros(q.size(0), config.num_heads,
                                 config.embedding_dim / config.num_heads, options);
}

torch::Tensor mLSTMCellImpl::forward(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v) {
  const Prepared in = prepare(q, k, v);
  const std::string backend = config.backend.value_or("auto");
  const int64_t seq = q.size(1);
  const bool chunkwise =
      backend == "chunkwise" ||
      (backend == "auto" &&
       (seq > config.context_length ||
        ops::mlstm::chunkwise_uses_kernels(in.q, in.k, in.v, in.igate_preact, in.fgate_preact)));
  if (chunkwise) {
    return finish(mlstm::chunkwise_stabilized(in.q, in.k, in.v, in.igate_preact, in.fgate_preact,
                                              {}, chunk_size)
                      .first);
  }
  // The causal mask covers context_length; a longer sequence gets its own.
  if (seq > config.context_length) {
    return finish(
        mlstm::parallel_stabilized_simple(in.q, in.k, in.v, in.igate_preact, in.fgate_preact));
  }
  if (causal_mask.device() != q.device()) causal_mask = causal_mask.to(q.device());
  return finish(mlstm::parallel_stabilized_simple(in.q, in.k, in.v, in.igate_preact,
                                                  in.fgate_preact, causal_mask));
}

std::pair<torch::Tensor, mlstm::CellState> mLSTMCellImpl::forward_with_state(
    const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const mlstm::CellState& state) {
  const Prepared in = prepare(q, k, v);
  auto [h, next] = mlstm::chunkwise_stabilized(in.q, in.k, in.v, in.igate_preact, in.fgate_preact,
                                               state_or_zeros(state, q), chunk_size);
  return {finish(h), next};
}

std::pair<torch::Tensor, mlstm::CellState> mLSTMCellImpl::step(const torch::Tensor& q,
                                                               const torch::Tensor& k,
                                                               const torch::Tensor& v,
                                                               const mlstm::CellState& state,
                                                               const mlstm::CellState* out) {
  TORCH_CHECK(q.dim() == 3 && q.size(1) == 1,
              "mLSTMCell::step: expected q [B, 1, embedding_dim], got ", q.sizes());
  const Prepared in = prepare(q, k, v);
  auto [h, next] = mlstm::recurrent_step_stabilized_simple(state_or_zeros(state, q), in.q, in.k,
                                                           in.v, in.igate_preact, in.fgate_preact,
                                                           /*eps=*/1e-6, out);
  return {finish(h), next};
}

}  // namespace xlstm
