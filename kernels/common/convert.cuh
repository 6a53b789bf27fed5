// Element conversion: float32 to and from the kernels' element types, the dispatch from an
// ElementType to its C++ type, and two floats packed into one 32-bit register.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels {

// Calls fn with a value of the C++ type of `type` (float, __nv_bfloat16 or __half).
template <typename Fn>
cudaError_t with_element_type(ElementType type, Fn fn) {
  switch (type) {
    case ElementType::kFloat32:
      return fn(float{});
    case ElementType::kBFloat16:
      return fn(__nv_bfloat16{});
    case ElementType::kFloat16:
      return fn(__half{});
  }
  return cudaErrorInvalidValue;
}

// float32 to and from the element type T, one specialisation per type.
template <typename T>
struct ElementConversion;
template <>
struct ElementConversion<float> {
  static __device__ __forceinline__ float to_float(float v) { return v; }
  static __device__ __forceinline__ float from_float(float v) { return v; }
};
template <>
struct ElementConversion<__nv_bfloat16> {
  static __device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float v) {
    return __float2bfloat16(v);
  }
};
template <>
struct ElementConversion<__half> {
  static __device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half from_float(float v) { return __float2half(v); }
};

template <typename T>
__device__ __forceinline__ float to_float(T v) {
  return ElementConversion<T>::to_float(v);
}
template <typename T>
__device__ __forceinline__ T from_float(float v) {
  return ElementConversion<T>::from_float(v);
}

// (lo, hi) rounded to T and packed into one register (lo in the low half), as mma operands are.
template <typename T>
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
  T v[2] = {from_float<T>(lo), from_float<T>(hi)};
  return *reinterpret_cast<unsigned*>(v);
}

// (lo, hi) rounded to T and stored at dst, dst[1] (4-byte aligned) in one 32-bit store.
template <typename T>
__device__ __forceinline__ void store_pair(T* dst, float lo, float hi) {
  *reinterpret_cast<unsigned*>(dst) = pack2<T>(lo, hi);
}

}  // namespace xlstm::kernels
