// The pointwise kernels of norms_kernels.h: the gated SiLU (packs of 16 bytes where the rows
// allow) and soft-capping, grid-stride loops over the elements.
#include <algorithm>
#include <cstdint>

#include "common/dependent_launch.cuh"
#include "norms/norms_kernels.h"
#include "norms/packed.cuh"

namespace xlstm::kernels::norms {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxBlocks = 4096;

int blocks_for(int64_t items) {
  return static_cast<int>(std::min(kMaxBlocks, (items + kThreads - 1) / kThreads));
}

template <typename T, int N>
__global__ void gated_silu_kernel(GatedSiluArgs a) {
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int64_t packs_per_row = a.features / N, total = int64_t(a.rows) * packs_per_row;
  const T* gate = static_cast<const T*>(a.gate);
  const T* z = static_cast<const T*>(a.z);
  T* y = static_cast<T*>(a.y);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / packs_per_row, p = i % packs_per_row;
    const Pack<T, N> gp = load_pack<T, N>(gate + row * a.gate_row_stride, p);
    const Pack<T, N> zp = load_pack<T, N>(z + row * a.z_row_stride, p);
    Pack<T, N> out;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float g = to_float(gp.v[j]);
      // ATen's silu, x / (1 + exp(-x)), rounded before the product.
      out.v[j] = from_float<T>(rounded<T>(g / (1.f + expf(-g))) * to_float(zp.v[j]));
    }
    store_pack<T, N>(y + row * a.features, p, out);
  }
}

template <typename T, int N>
cudaError_t launch_gated_silu_packs(const GatedSiluArgs& a, cudaStream_t stream) {
  return launch_overlapping(gated_silu_kernel<T, N>, blocks_for(int64_t(a.rows) * (a.features / N)),
                            kThreads, 0, stream, a);
}

template <typename T>
cudaError_t launch_gated_silu(const GatedSiluArgs& a, cudaStream_t stream) {
  constexpr int wide = kWidePack<T>;
  constexpr int bytes = wide * sizeof(T);
  const bool packs_fit = a.features % wide == 0 && a.gate_row_stride % wide == 0 &&
                         a.z_row_stride % wide == 0 && aligned_to(a.gate, bytes) &&
                         aligned_to(a.z, bytes) && aligned_to(a.y, bytes);
  return packs_fit ? launch_gated_silu_packs<T, wide>(a, stream)
                   : launch_gated_silu_packs<T, 1>(a, stream);
}

template <typename T>
__global__ void soft_cap_kernel(SoftCapArgs a) {
  wait_for_previous_kernels();
  let_next_kernel_start();
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const float inverse_cap = 1.f / a.cap;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.count;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float scaled = rounded<T>(to_float(x[i]) * inverse_cap);
    y[i] = from_float<T>(a.cap * rounded<T>(tanhf(scaled)));
  }
}

template <typename T>
cudaError_t launch_soft_cap(const SoftCapArgs& a, cudaStream_t stream) {
  return launch_overlapping(soft_cap_kernel<T>, blocks_for(a.count), kThreads, 0, stream, a);
}

}  // namespace

cudaError_t gated_silu(const GatedSiluArgs& args, cudaStream_t stream) {
  if (args.rows <= 0 || args.features <= 0 || args.gate_row_stride < args.features ||
      args.z_row_stride < args.features || !args.gate || !args.z || !args.y)
    return cudaErrorInvalidValue;
  return with_element_type(args.element_type, [&](auto zero) {
    return launch_gated_silu<decltype(zero)>(args, stream);
  });
}

cudaError_t soft_cap(const SoftCapArgs& args, cudaStream_t stream) {
  if (args.count <= 0 || !args.x || !args.y || !(args.cap > 0.f)) return cudaErrorInvalidValue;
  return with_element_type(
      args.element_type, [&](auto zero) { return launch_soft_cap<decltype(zero)>(args, stream); });
}

}  // namespace xlstm::kernels::norms
