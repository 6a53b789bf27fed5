// What the norm kernels share: packs of N elements loaded and stored as one access (16 bytes when
// the rows allow it), float32 values rounded to an element type as a stored tensor would be, and
// the exact logistic function ATen uses.
#pragma once

#include <cstdint>

#include "common/convert.cuh"

namespace xlstm::kernels::norms {

// N elements of type T in one aligned access.
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// Elements per 16-byte access.
template <typename T>
constexpr int kWidePack = 16 / static_cast<int>(sizeof(T));

// Whether `p` may be read as packs of `bytes` bytes (null pointers do not matter).
inline bool aligned_to(const void* p, int bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % static_cast<std::uintptr_t>(bytes) == 0;
}

template <typename T, int N>
__device__ __forceinline__ Pack<T, N> load_pack(const T* base, int64_t pack_index) {
  return reinterpret_cast<const Pack<T, N>*>(base)[pack_index];
}

template <typename T, int N>
__device__ __forceinline__ void store_pack(T* base, int64_t pack_index, const Pack<T, N>& pack) {
  reinterpret_cast<Pack<T, N>*>(base)[pack_index] = pack;
}

// `v` rounded to T and back: the value a tensor of T holds after an op computed it in float32.
template <typename T>
__device__ __forceinline__ float rounded(float v) {
  return to_float(from_float<T>(v));
}

// 1 / (1 + exp(-x)) with the accurate exp (ATen's sigmoid; common/math.cuh's uses __expf).
__device__ __forceinline__ float exact_sigmoid(float x) {
  return 1.f / (1.f + expf(-x));
}

}  // namespace xlstm::kernels::norms
