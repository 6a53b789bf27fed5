// A CUDA kernel's result against the ATen computation it replaces: a CUDA tensor of the reference's
// dtype and shape; float32 within 1e-5 relative, 16-bit types within `roundings` units of their
// precision (tolerance.h).
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm::test {

inline void expect_kernel_close(const torch::Tensor& result, const torch::Tensor& reference,
                                torch::ScalarType dtype, double roundings,
                                const std::string& what) {
  EXPECT_TRUE(result.is_cuda()) << what;
  EXPECT_EQ(result.scalar_type(), reference.scalar_type()) << what;
  ASSERT_EQ(result.sizes(), reference.sizes()) << what;
  if (dtype == torch::kFloat32)
    EXPECT_LE(max_rel_diff(result, reference), 1e-5) << what;
  else
    EXPECT_TRUE(close_at_precision(result, reference, dtype, roundings)) << what;
}

}  // namespace xlstm::test
