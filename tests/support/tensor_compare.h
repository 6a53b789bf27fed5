// Small tensor comparison helpers for tests.
#pragma once

#include <torch/torch.h>

namespace xlstm::test {

/// max |a - b| computed in float64 (0 for empty tensors).
inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

/// max |a - b| / max |b| computed in float64.
inline double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = b.to(torch::kFloat64).abs().max().item<double>();
  return max_abs_diff(a, b) / (scale > 0.0 ? scale : 1.0);
}

}  // namespace xlstm::test
