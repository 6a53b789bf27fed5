// RAII CUDA autocast (the C++ side of `with torch.autocast("cuda", dtype)`).
// LibTorch 2.4 replaced the CUDA-only functions (set_enabled, set_autocast_gpu_dtype) by ones
// that take the device type.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace xlstm {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define XLSTM_AUTOCAST_DEVICE_API 1
#endif

/// Whether CUDA autocast is on in this thread (`torch.is_autocast_enabled()`).
inline bool cuda_autocast_enabled() {
#ifdef XLSTM_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

class CudaAutocast {
 public:
  CudaAutocast(bool enabled, at::ScalarType dtype) : enabled_(enabled) {
    if (!enabled_) return;
    was_enabled_ = cuda_autocast_enabled();
#ifdef XLSTM_AUTOCAST_DEVICE_API
    old_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
    old_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
#endif
    at::autocast::increment_nesting();
  }
  ~CudaAutocast() {
    if (!enabled_) return;
    // Leaving the outermost region frees the cached casts of the weights (as torch.autocast).
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef XLSTM_AUTOCAST_DEVICE_API
    at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, old_dtype_);
#else
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(old_dtype_);
#endif
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool enabled_;
  bool was_enabled_ = false;
  at::ScalarType old_dtype_ = at::kHalf;
};

}  // namespace xlstm
