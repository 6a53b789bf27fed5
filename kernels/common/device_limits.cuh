// What the launch planning needs to know of the current device.
#pragma once

#include <cuda_runtime.h>

namespace xlstm::kernels {

constexpr int kMaxClusterBlocks = 16;  // non-portable cluster size on sm_90

struct DeviceLimits {
  int sms = 0;
  int smem_optin = 0;
  int major = 0;
};

inline cudaError_t device_limits(DeviceLimits* limits) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&limits->sms, cudaDevAttrMultiProcessorCount, device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&limits->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                 device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&limits->major, cudaDevAttrComputeCapabilityMajor, device);
  return err;
}

}  // namespace xlstm::kernels
