// Integer helpers of launch planning, the float32 device math of gate nonlinearities and a block
// reduction.
#pragma once

#include <cuda_runtime.h>

namespace xlstm::kernels {

inline int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}
inline int round_up(int a, int b) {
  return ceil_div(a, b) * b;
}

__device__ __forceinline__ float sigmoid(float x) {
  return 1.f / (1.f + __expf(-x));
}
__device__ __forceinline__ float logsigmoid(float x) {
  return fminf(x, 0.f) - log1pf(__expf(-fabsf(x)));
}
// log(sigmoid(x)) with the accurate exp and log1p (ATen's formula).
__device__ __forceinline__ float exact_log_sigmoid(float x) {
  return x < 0.f ? x - log1pf(expf(x)) : -log1pf(expf(-x));
}

// The sum of v over the block, returned to every thread, in a fixed order (bitwise reproducible);
// blockDim.x a multiple of 32, warp_sums shared memory of blockDim.x / 32 floats.
__device__ __forceinline__ float block_sum(float v, float* warp_sums) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  __syncthreads();  // a previous call's readers are done with warp_sums
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += warp_sums[w];
  return total;
}

// acc + a . b as four chained FMAs (no separate multiply and add).
__device__ __forceinline__ float fma4(float4 a, float4 b, float acc) {
  return fmaf(a.w, b.w, fmaf(a.z, b.z, fmaf(a.y, b.y, fmaf(a.x, b.x, acc))));
}

}  // namespace xlstm::kernels
