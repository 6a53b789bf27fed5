// What the three mLSTM forms share: the compute dtype, the input checks and the stabilised
// normaliser.
#pragma once

#include <limits>
#include <vector>

#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm::detail {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// float32 for bfloat16 / float16 inputs, else the input dtype.
inline torch::ScalarType float32_or_wider(const torch::Tensor& x) {
  return torch::promote_types(x.scalar_type(), torch::kFloat32);
}

inline void check_sequence_inputs(const char* where, const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v, const torch::Tensor& igate,
                                  const torch::Tensor& fgate) {
  TORCH_CHECK(q.dim() == 4, where, ": queries must be [B, NH, S, DHqk], got ", q.sizes());
  TORCH_CHECK(k.sizes() == q.sizes(), where, ": keys must be shaped like the queries ", q.sizes(),
              ", got ", k.sizes());
  TORCH_CHECK(v.dim() == 4 && v.sizes().slice(0, 3) == q.sizes().slice(0, 3), where,
              ": values must be [", q.size(0), ", ", q.size(1), ", ", q.size(2), ", DHv], got ",
              v.sizes());
  const std::vector<int64_t> gate_shape = {q.size(0), q.size(1), q.size(2), 1};
  TORCH_CHECK(igate.sizes() == gate_shape && fgate.sizes() == gate_shape, where,
              ": gate pre-activations must be ", c10::IntArrayRef(gate_shape), ", got ",
              igate.sizes(), " and ", fgate.sizes());
}

inline void check_state(const char* where, const CellState& state, const torch::Tensor& q,
                        const torch::Tensor& v) {
  const int64_t batch = q.size(0), heads = q.size(1), qk_dim = q.size(3), v_dim = v.size(3);
  TORCH_CHECK(state.C.sizes() == c10::IntArrayRef({batch, heads, qk_dim, v_dim}) &&
                  state.n.sizes() == c10::IntArrayRef({batch, heads, qk_dim, 1}) &&
                  state.m.sizes() == c10::IntArrayRef({batch, heads, 1, 1}),
              where, ": state must be C [", batch, ", ", heads, ", ", qk_dim, ", ", v_dim, "], n [",
              batch, ", ", heads, ", ", qk_dim, ", 1], m [", batch, ", ", heads, ", 1, 1], got ",
              state.C.sizes(), ", ", state.n.sizes(), ", ", state.m.sizes());
}

/// h = numerator / (max(|denominator|, exp(-m)) + eps): the stabilised normaliser
/// max(|n^T q|, 1) of paper eq. 21.
inline torch::Tensor normalise(const torch::Tensor& numerator, const torch::Tensor& denominator,
                               const torch::Tensor& m, double eps) {
  return numerator / (torch::maximum(denominator.abs(), torch::exp(-m)) + eps);
}

}  // namespace xlstm::ops::mlstm::detail
