// The cell's backend choice: names to the enum, and the cuda backend's fallback on the CPU.
#include "xlstm/blocks/slstm/backend.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace xlstm::slstm {
namespace {

TEST(sLSTMBackend, NamesOfTheConfig) {
  EXPECT_EQ(backend_from_name("vanilla"), Backend::kVanilla);
  EXPECT_EQ(backend_from_name("cuda"), Backend::kCuda);
  EXPECT_THROW(backend_from_name("triton"), std::invalid_argument);
  EXPECT_EQ(cuda_backend_available(), ops::slstm::cuda_recurrence_available());
}

TEST(sLSTMBackend, CudaOnCpuTensorsIsTheVanillaRecurrence) {
  torch::manual_seed(0);
  const int64_t S = 3, B = 2, NH = 2, DH = 4, H = NH * DH;
  const torch::Tensor wx = torch::randn({S, B, 4 * H}), state0 = torch::zeros({4, B, H});
  const torch::Tensor R = torch::randn({NH, 4 * DH, DH}), bias = torch::randn({4 * H});
  ops::slstm::RecurrenceOptions options;
  options.num_heads = NH;
  auto [y, final_state] = run_recurrence(Backend::kCuda, wx, state0, R, bias, options);
  auto [y_ref, final_ref] = ops::slstm::recurrence_vanilla(wx, state0, R, bias, options);
  EXPECT_TRUE(torch::equal(y, y_ref));
  EXPECT_TRUE(torch::equal(final_state, final_ref));
}

}  // namespace
}  // namespace xlstm::slstm
