#include <cmath>

#include "common.h"
#include "recurrent_step_cuda.h"
#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm {

using namespace detail;

CellState CellState::zeros(int64_t batch, int64_t heads, int64_t head_dim,
                           const torch::TensorOptions& options) {
  return zeros(batch, heads, head_dim, head_dim, options);
}

CellState CellState::zeros(int64_t batch, int64_t heads, int64_t qk_head_dim, int64_t v_head_dim,
                           const torch::TensorOptions& options) {
  return {torch::zeros({batch, heads, qk_head_dim, v_head_dim}, options),
          torch::zeros({batch, heads, qk_head_dim, 1}, options),
          torch::zeros({batch, heads, 1, 1}, options)};
}

std::pair<torch::Tensor, CellState> recurrent_step_stabilized(
    const CellState& state, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, double eps,
    const CellState* out) {
  check_sequence_inputs("recurrent_step_stabilized", q, k, v, igate_preact, fgate_preact);
  TORCH_CHECK(q.size(2) == 1, "recurrent_step_stabilized: expects S = 1, got ", q.sizes());
  TORCH_CHECK(state.defined(), "recurrent_step_stabilized: the state must be defined");
  check_state("recurrent_step_stabilized", state, q, v);
  if (out) check_state("recurrent_step_stabilized (out)", *out, q, v);
#ifdef XLSTM_WITH_CUDA
  if (step_kernel_applies(state, q, k, v, igate_preact, fgate_preact, out))
    return recurrent_step_cuda(state, q, k, v, igate_preact, fgate_preact, eps, out);
#endif
  const auto dtype = float32_or_wider(q);
  const int64_t head_dim = q.size(3);
  const torch::Tensor q_row = q.to(dtype);                    // [B, NH, 1, DHqk]
  const torch::Tensor k_col = k.to(dtype).transpose(-1, -2);  // [B, NH, DHqk, 1]
  const torch::Tensor v_row = v.to(dtype);                    // [B, NH, 1, DHv]
  const torch::Tensor m = state.m.to(dtype);

  // Stabilised gates (paper eqs. 15-17 applied to the mLSTM): m' = max(log f + m, i).
  const torch::Tensor log_f_plus_m = torch::log_sigmoid(fgate_preact.to(dtype)) + m;
  const torch::Tensor igate = igate_preact.to(dtype);
  const torch::Tensor m_new = torch::maximum(log_f_plus_m, igate);
  const torch::Tensor f_act = torch::exp(log_f_plus_m - m_new);
  const torch::Tensor i_scaled_k =
      k_col * (torch::exp(igate - m_new) / std::sqrt(static_cast<double>(head_dim)));

  // C' = f C + i k v^T, n' = f n + i k (paper eqs. 19-20, keys scaled by 1/sqrt(DH)).
  const torch::Tensor c_old = state.C.to(dtype), n_old = state.n.to(dtype);
  torch::Tensor c_new, n_new;
  if (out) {
    c_new = out->C;
    n_new = out->n;
    torch::mul_out(c_new, f_act, c_old);
    torch::addcmul_out(n_new, i_scaled_k, f_act, n_old);
  } else {
    c_new = f_act * c_old;
    n_new = torch::addcmul(i_scaled_k, f_act, n_old);
  }
  c_new.addcmul_(i_scaled_k, v_row);
  // q^T C' and q^T n': on the CPU as broadcast products (cheaper there than batched
  // matrix-vector products), on a GPU as those products (one read of C', no C'-sized temporary).
  const torch::Tensor q_col = q_row.transpose(-1, -2);
  const bool on_cpu = q.device().is_cpu();
  const torch::Tensor numerator =
      on_cpu ? (q_col * c_new).sum(-2, /*keepdim=*/true) : torch::matmul(q_row, c_new);
  const torch::Tensor denominator =
      on_cpu ? (q_col * n_new).sum(-2, /*keepdim=*/true) : torch::matmul(q_row, n_new);
  const torch::Tensor h = normalise(numerator, denominator, m_new, eps);  // [B, NH, 1, DHv]
  if (!out) return {h.to(q.scalar_type()), CellState{c_new, n_new, m_new}};
  out->m.copy_(m_new);
  return {h.to(q.scalar_type()), *out};
}

}  // namespace xlstm::ops::mlstm
