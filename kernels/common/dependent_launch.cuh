// Programmatic dependent launch (sm_90): a kernel queued with launch_overlapping() may start while
// the kernel before it on the stream still runs, so that its launch, and its loads of constant
// inputs (weights), overlap that kernel's tail. Such a kernel must call wait_for_previous_kernels()
// in every block before it reads anything the kernels before it write, or writes anything they
// read, and before any of its blocks can return (a kernel behind it relies on its completion
// implying theirs). After the wait it calls let_next_kernel_start(). Both are no-ops on older GPUs
// and in kernels launched the ordinary way. XLSTM_OVERLAP_LAUNCHES=0 launches the ordinary way.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace xlstm::kernels {

__device__ __forceinline__ void wait_for_previous_kernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void let_next_kernel_start() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether launches on the current device may overlap: sm_90 or newer and not switched off.
inline bool overlapping_launches() {
  static const bool switched_on = [] {
    const char* value = std::getenv("XLSTM_OVERLAP_LAUNCHES");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  if (!switched_on) return false;
  int device = 0, major = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it, the launch itself reports real errors
    return false;
  }
  return major >= 9;
}

// kernel<<<grid, block, smem, stream>>>(args...), allowed to overlap the previous kernel.
template <typename... Params, typename... Args>
cudaError_t launch_overlapping(void (*kernel)(Params...), dim3 grid, dim3 block,
                               std::size_t smem_bytes, cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem_bytes;
  config.stream = stream;
  cudaLaunchAttribute attribute;
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  if (overlapping_launches()) {
    config.attrs = &attribute;
    config.numAttrs = 1;
  }
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace xlstm::kernels
