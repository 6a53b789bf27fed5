#include <cmath>
#include <vector>

#include "chunkwise_cuda.h"
#include "common.h"
#include "xlstm/ops/mlstm.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::mlstm {
namespace {

using namespace detail;

/// Processes `num_chunks` chunks of `chunk_len` positions in one batch. q, k, v
/// [B, NH, num_chunks * chunk_len, DHqk or DHv] (k already scaled by 1/sqrt(DHqk)), gates
/// [B, NH, num_chunks * chunk_len, 1]; `state` is the memory before the first chunk (m = -inf
/// meaning none). Returns (h, state after the last chunk).
std::pair<torch::Tensor, CellState> chunk_group(const torch::Tensor& q, const torch::Tensor& k,
                                                const torch::Tensor& v,
                                                const torch::Tensor& igate_preact,
                                                const torch::Tensor& fgate_preact,
                                                const CellState& state, int64_t num_chunks,
                                                int64_t chunk_len, double eps) {
  const int64_t batch = q.size(0), heads = q.size(1), v_dim = v.size(3);
  const std::vector<int64_t> chunked = {batch, heads, num_chunks, chunk_len, -1};
  const torch::Tensor qc = q.reshape(chunked), kc = k.reshape(chunked), vc = v.reshape(chunked);
  const torch::Tensor igate = igate_preact.reshape({batch, heads, num_chunks, chunk_len});
  // b_t: cumulative log forget gate inside each chunk (up to and including t).
  const torch::Tensor b =
      torch::log_sigmoid(fgate_preact.reshape({batch, heads, num_chunks, chunk_len})).cumsum(-1);

  // Intra-chunk log D[t, j] = b_t - b_j + i_j for j <= t (the parallel D matrix, per chunk).
  const torch::Tensor causal =
      torch::ones({chunk_len, chunk_len}, q.options().dtype(torch::kBool)).tril();
  // (In-place updates of fresh temporaries below save S x L allocations and are autograd-safe.)
  const torch::Tensor log_d =
      torch::where(causal, b.unsqueeze(-1) - b.unsqueeze(-2), torch::full({}, kNegInf, q.options()))
          .add_(igate.unsqueeze(-2));
  const torch::Tensor intra_max = log_d.amax(-1, /*keepdim=*/true);  // [.., L, 1]

  // What each chunk adds to the memory, stabilised by its own maximum (the last row of log D).
  const torch::Tensor last_row = log_d.select(-2, chunk_len - 1);       // [B, NH, NC, L]
  const torch::Tensor chunk_max = intra_max.select(-2, chunk_len - 1);  // [B, NH, NC, 1]
  const torch::Tensor weighted_k = kc * torch::exp(last_row - chunk_max).unsqueeze(-1);
  const torch::Tensor chunk_c = torch::matmul(weighted_k.transpose(-1, -2), vc);  // [.., DHqk, DHv]
  const torch::Tensor chunk_n = weighted_k.sum(-2).unsqueeze(-1);                 // [.., DHqk, 1]
  const torch::Tensor chunk_decay = b.select(-1, chunk_len - 1);                  // [B, NH, NC]

  // Carry the memory across chunks: m' = max(b_L + m, chunk_max) and
  // C' = exp(b_L + m - m') C + exp(chunk_max - m') chunk_c (paper eqs. 19-20, stabilised).
  std::vector<torch::Tensor> c_in, n_in, m_in;
  c_in.reserve(num_chunks);
  n_in.reserve(num_chunks);
  m_in.reserve(num_chunks);
  torch::Tensor c_state = state.C, n_state = state.n, m_state = state.m;
  for (int64_t c = 0; c < num_chunks; ++c) {
    c_in.push_back(c_state);
    n_in.push_back(n_state);
    m_in.push_back(m_state);
    const torch::Tensor decayed_m = chunk_decay.select(-1, c).view({batch, heads, 1, 1}) + m_state;
    const torch::Tensor add_m = chunk_max.select(-2, c).view({batch, heads, 1, 1});
    const torch::Tensor m_next = torch::maximum(decayed_m, add_m);
    const torch::Tensor keep = torch::exp(decayed_m - m_next), add = torch::exp(add_m - m_next);
    c_state = keep * c_state + add * chunk_c.select(2, c);
    n_state = keep * n_state + add * chunk_n.select(2, c);
    m_state = m_next;
  }
  const torch::Tensor c_prev = torch::stack(c_in, 2);  // [B, NH, NC, DHqk, DHv]
  const torch::Tensor n_prev = torch::stack(n_in, 2);  // [B, NH, NC, DHqk, 1]
  const torch::Tensor m_prev = torch::stack(m_in, 2).view({batch, heads, num_chunks, 1, 1});

  // Row stabiliser: the recurrent m_t = max(intra max, b_t + m before the chunk).
  const torch::Tensor decayed_prev = b.unsqueeze(-1) + m_prev;  // [B, NH, NC, L, 1]
  const torch::Tensor m_row = torch::maximum(intra_max, decayed_prev);
  const torch::Tensor inter_scale = torch::exp(decayed_prev - m_row);
  const torch::Tensor e = torch::matmul(qc, kc.transpose(-1, -2)) * (log_d - m_row).exp_();
  const torch::Tensor numerator = torch::matmul(e, vc) + inter_scale * torch::matmul(qc, c_prev);
  const torch::Tensor denominator =
      e.sum(-1, /*keepdim=*/true) + inter_scale * torch::matmul(qc, n_prev);
  const torch::Tensor h = normalise(numerator, denominator, m_row, eps);
  return {h.reshape({batch, heads, num_chunks * chunk_len, v_dim}),
          CellState{c_state, n_state, m_state}};
}

}  // namespace

bool chunkwise_uses_kernels(const torch::Tensor& queries, const torch::Tensor& keys,
                            const torch::Tensor& values, const torch::Tensor& igate_preact,
                            const torch::Tensor& fgate_preact, const CellState& initial) {
#ifdef XLSTM_WITH_CUDA
  for (const torch::Tensor& t : {igate_preact, fgate_preact, initial.C, initial.n, initial.m}) {
    if (t.defined() && t.device() != queries.device()) return false;
  }
  return chunkwise_kernel_applies(queries, keys, values,
                                  needs_grad({queries, keys, values, igate_preact, fgate_preact,
                                              initial.C, initial.n, initial.m}));
#else
  return false;
#endif
}

std::pair<torch::Tensor, CellState> chunkwise_stabilized(
    const torch::Tensor& queries, const torch::Tensor& keys, const torch::Tensor& values,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, const CellState& initial,
    int64_t chunk_size, double eps) {
  check_sequence_inputs("chunkwise_stabilized", queries, keys, values, igate_preact, fgate_preact);
  TORCH_CHECK(chunk_size > 0, "chunkwise_stabilized: chunk_size must be positive, got ",
              chunk_size);
  const int64_t batch = queries.size(0), heads = queries.size(1), seq = queries.size(2),
                head_dim = queries.size(3);
  if (seq == 0) return {queries, initial};
  if (initial.defined()) check_state("chunkwise_stabilized", initial, queries, values);
#ifdef XLSTM_WITH_CUDA
  if (chunkwise_uses_kernels(queries, keys, values, igate_preact, fgate_preact, initial))
    return chunkwise_kernel(queries, keys, values, igate_preact, fgate_preact, initial, eps);
#endif
  const auto dtype = float32_or_wider(queries);
  const torch::Tensor q = queries.to(dtype), v = values.to(dtype);
  const torch::Tensor k = keys.to(dtype) / std::sqrt(static_cast<double>(head_dim));
  const torch::Tensor igate = igate_preact.to(dtype), fgate = fgate_preact.to(dtype);

  CellState state;
  if (initial.defined()) {
    state = {initial.C.to(dtype), initial.n.to(dtype), initial.m.to(dtype)};
  } else {
    // No history: zero memory with stabiliser -inf contributes nothing, as in the parallel form.
    state = CellState::zeros(batch, heads, head_dim, v.size(3), q.options());
    state.m = torch::full({batch, heads, 1, 1}, kNegInf, q.options());
  }

  const int64_t full_chunks = seq / chunk_size, full_len = full_chunks * chunk_size;
  std::vector<torch::Tensor> outputs;
  if (full_chunks > 0) {
    auto [h, next] = chunk_group(q.narrow(2, 0, full_len), k.narrow(2, 0, full_len),
                                 v.narrow(2, 0, full_len), igate.narrow(2, 0, full_len),
                                 fgate.narrow(2, 0, full_len), state, full_chunks, chunk_size, eps);
    outputs.push_back(h);
    state = next;
  }
  if (full_len < seq) {
    const int64_t rest = seq - full_len;
    auto [h, next] = chunk_group(q.narrow(2, full_len, rest), k.narrow(2, full_len, rest),
                                 v.narrow(2, full_len, rest), igate.narrow(2, full_len, rest),
                                 fgate.narrow(2, full_len, rest), state, 1, rest, eps);
    outputs.push_back(h);
    state = next;
  }
  const torch::Tensor h = outputs.size() == 1 ? outputs[0] : torch::cat(outputs, 2);
  return {h.to(queries.scalar_type()), state};
}

}  // namespace xlstm::ops::mlstm
