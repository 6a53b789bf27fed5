// What every bridge between tensors and the CUDA kernels of kernels/ needs. Included only by
// *_cuda.cpp files, which are built only with XLSTM_WITH_CUDA (see CMakeLists.txt).
#pragma once

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/torch.h>

#include <cstddef>

#include "common/element_type.h"

namespace xlstm::ops {

/// The kernels' element type of `dtype`; `where` names the caller in the error.
inline kernels::ElementType element_type(const char* where, torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return kernels::ElementType::kFloat32;
    case torch::kBFloat16:
      return kernels::ElementType::kBFloat16;
    case torch::kFloat16:
      return kernels::ElementType::kFloat16;
    default:
      TORCH_CHECK(false, where, ": unsupported dtype ", dtype,
                  " (float32, bfloat16 and float16 are supported)");
  }
}

/// Whether `dtype` is a kernel element type (float32, bfloat16, float16).
inline bool kernel_dtype(torch::ScalarType dtype) {
  return dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kFloat16;
}

/// Throws unless `t` is a defined CUDA tensor of a kernel element type.
inline void check_cuda_tensor(const char* where, const torch::Tensor& t) {
  TORCH_CHECK(t.defined() && t.is_cuda(), where, " needs CUDA tensors");
  element_type(where, t.scalar_type());
}

/// `bytes` of device scratch on the device of `like`.
inline torch::Tensor workspace(std::size_t bytes, const torch::Tensor& like) {
  return torch::empty({static_cast<int64_t>(bytes)}, like.options().dtype(torch::kUInt8));
}

/// Throws naming `what` when a kernel launch returned an error.
inline void check_launch(const char* what, cudaError_t err) {
  TORCH_CHECK(err == cudaSuccess, what, " failed: ", cudaGetErrorString(err));
}

}  // namespace xlstm::ops
