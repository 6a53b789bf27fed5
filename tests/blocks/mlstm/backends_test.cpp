// The Python-named backends of blocks/mlstm/backends.h are the tensor ops of ops/mlstm.h (whose
// numerics tests/ops/mlstm_test.cpp checks).
#include "xlstm/blocks/mlstm/backends.h"

#include <gtest/gtest.h>

namespace xlstm::mlstm {
namespace {

TEST(mLSTMBackends, PythonNamesCallTheOps) {
  torch::manual_seed(0);
  const auto randn = [](int64_t seq, int64_t last) { return torch::randn({2, 3, seq, last}); };
  const torch::Tensor q = randn(5, 4), k = randn(5, 4), v = randn(5, 4);
  const torch::Tensor igate = randn(5, 1), fgate = randn(5, 1) + 2.0;
  EXPECT_TRUE(
      torch::equal(parallel_stabilized_simple(q, k, v, igate, fgate, {}, false, 1e-3),
                   ops::mlstm::parallel_stabilized(q, k, v, igate, fgate, {}, false, 1e-3)));

  const CellState zero = CellState::zeros(2, 3, 4, q.options());
  const auto at = [](const torch::Tensor& t) { return t.narrow(2, 0, 1); };
  auto [h, state] =
      recurrent_step_stabilized_simple(zero, at(q), at(k), at(v), at(igate), at(fgate), 1e-3);
  auto [h_ops, state_ops] =
      ops::mlstm::recurrent_step_stabilized(zero, at(q), at(k), at(v), at(igate), at(fgate), 1e-3);
  EXPECT_TRUE(torch::equal(h, h_ops));
  EXPECT_TRUE(torch::equal(state.C, state_ops.C));
  EXPECT_TRUE(torch::equal(state.n, state_ops.n));
  EXPECT_TRUE(torch::equal(state.m, state_ops.m));
}

}  // namespace
}  // namespace xlstm::mlstm
