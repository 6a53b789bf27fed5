// Integer helpers of launch planning and the float32 device math of gate nonlinearities.
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
// acc + a . b as four chained FMAs (no separate multiply and add).
__device__ __forceinline__ float fma4(float4 a, float4 b, float acc) {
  return fmaf(a.w, b.w, fmaf(a.z, b.z, fmaf(a.y, b.y, fmaf(a.x, b.x, acc))));
}

}  // namespace xlstm::kernels
