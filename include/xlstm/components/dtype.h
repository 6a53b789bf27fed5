// Dtypes: their config / command-line names, and the dtype a module computes in. LibTorch 1.x has
// no CPU kernels for float16 matmul, norms or addcmul, so float16 CPU inputs are computed in
// float32 and the result cast back to float16.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "xlstm/config/dtype_names.h"

namespace xlstm {

/// The dtype of a name of dtype_names() or its short form ("f32", "bf16", "f16"); throws
/// std::invalid_argument naming the unknown name and the choices.
torch::ScalarType dtype_from_name(const std::string& name);

/// The name (of dtype_names()) of float32, bfloat16 or float16; throws std::invalid_argument for
/// other dtypes.
std::string dtype_name(torch::ScalarType dtype);

/// float32 for a float16 CPU tensor, otherwise the tensor's own dtype.
inline torch::ScalarType compute_dtype(const torch::Tensor& x) {
  return x.scalar_type() == torch::kHalf && x.device().is_cpu() ? torch::kFloat32 : x.scalar_type();
}

/// `t` in dtype `dtype` (no copy when it already is); undefined stays undefined.
inline torch::Tensor cast_to(const torch::Tensor& t, torch::ScalarType dtype) {
  return t.defined() ? t.to(dtype) : t;
}

/// F.linear(x, layer.weight, layer.bias) with the parameters cast to x's dtype.
inline torch::Tensor linear_as_input(const torch::Tensor& x, const torch::nn::Linear& layer) {
  return torch::linear(x, layer->weight.to(x.scalar_type()), cast_to(layer->bias, x.scalar_type()));
}

}  // namespace xlstm
