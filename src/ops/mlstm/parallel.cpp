#include <cmath>

#include "common.h"
#include "xlstm/ops/mlstm.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::mlstm {

using namespace detail;

torch::Tensor parallel_stabilized(const torch::Tensor& queries, const torch::Tensor& keys,
                                  const torch::Tensor& values, const torch::Tensor& igate_preact,
                                  const torch::Tensor& fgate_preact,
                                  const torch::Tensor& lower_triangular_matrix,
                                  bool stabilize_rowwise, double eps) {
  check_sequence_inputs("parallel_stabilized", queries, keys, values, igate_preact, fgate_preact);
  const auto dtype = float32_or_wider(queries);
  const torch::Tensor q = queries.to(dtype), k = keys.to(dtype), v = values.to(dtype);
  const int64_t seq = q.size(2), head_dim = q.size(3);

  torch::Tensor causal;
  if (lower_triangular_matrix.defined() && lower_triangular_matrix.size(-1) >= seq) {
    TORCH_CHECK(lower_triangular_matrix.scalar_type() == torch::kBool,
                "parallel_stabilized: lower_triangular_matrix must be bool, got ",
                lower_triangular_matrix.scalar_type());
    causal = lower_triangular_matrix.narrow(-2, 0, seq).narrow(-1, 0, seq).to(q.device());
  } else {
    causal = torch::ones({seq, seq}, q.options().dtype(torch::kBool)).tril();
  }
  // log F[t, j] = sum_{j < s <= t} log sigmoid(f_s): cumulative sums of the log forget gates.
  const torch::Tensor log_f_cumsum = torch::log_sigmoid(fgate_preact.to(dtype)).cumsum(-2);
  // (In-place updates of fresh temporaries below save S x S allocations and are autograd-safe.)
  const torch::Tensor log_d =  // [B, NH, S, S]
      torch::where(causal, log_f_cumsum - log_f_cumsum.transpose(-2, -1),
                   torch::full({}, kNegInf, q.options()))
          .add_(igate_preact.to(dtype).transpose(-2, -1));
  const torch::Tensor max_log_d =
      stabilize_rowwise ? log_d.amax(-1, /*keepdim=*/true) : log_d.amax({-2, -1}, /*keepdim=*/true);
  // Without autograd the S x S temporaries can be reused in place (amax's backward needs log_d).
  const bool grad = needs_grad({queries, keys, values, igate_preact, fgate_preact});
  const torch::Tensor d = (grad ? log_d - max_log_d : log_d.sub_(max_log_d)).exp_();
  const torch::Tensor keys_scaled = k / std::sqrt(static_cast<double>(head_dim));
  torch::Tensor c = torch::matmul(q, keys_scaled.transpose(-2, -1));
  c = grad ? c * d : c.mul_(d);
  // (C / normaliser) @ V == (C @ V) / normaliser: the normaliser is constant along a row.
  const torch::Tensor h =
      normalise(torch::matmul(c, v), c.sum(-1, /*keepdim=*/true), max_log_d, eps);
  return h.to(queries.scalar_type());
}

}  // namespace xlstm::ops::mlstm
