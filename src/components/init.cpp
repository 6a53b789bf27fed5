#include "xlstm/components/init.h"

#include <cmath>

namespace xlstm {

torch::Tensor small_init_(const torch::Tensor& param, int64_t dim) {
  TORCH_CHECK(dim > 0, "small_init_: dim must be positive, got ", dim);
  torch::NoGradGuard no_grad;
  return param.normal_(0.0, std::sqrt(2.0 / (5.0 * static_cast<double>(dim))));
}

torch::Tensor wang_init_(const torch::Tensor& param, int64_t dim, int64_t num_blocks) {
  TORCH_CHECK(dim > 0 && num_blocks > 0, "wang_init_: dim and num_blocks must be positive, got ",
              dim, " and ", num_blocks);
  torch::NoGradGuard no_grad;
  return param.normal_(0.0,
                       2.0 / static_cast<double>(num_blocks) / std::sqrt(static_cast<double>(dim)));
}

torch::Tensor bias_linspace_init_(const torch::Tensor& param, double start, double end) {
  TORCH_CHECK(param.dim() == 1,
              "bias_linspace_init_: param must be 1-dimensional (typically a bias), got shape ",
              param.sizes());
  torch::NoGradGuard no_grad;
  return param.copy_(torch::linspace(start, end, param.size(0), torch::kFloat32));
}

}  // namespace xlstm
