// The row norm of norms_kernels.h: one block per row, three (RMS: two) passes over the row, which
// is re-read from the cache rather than held in registers so that any row size works: the
// statistics (sum, then for the layer norm the centred sum of squares, both in float32), then the
// normalised, scaled, shifted and gated output, packs of 16 bytes where the rows allow.
#include <algorithm>

#include "common/dependent_launch.cuh"
#include "common/math.cuh"
#include "norms/norms_kernels.h"
#include "norms/packed.cuh"

namespace xlstm::kernels::norms {
namespace {

constexpr int kMaxThreads = 256;

// The sum of `v` over the block, returned to every thread (blockDim.x a multiple of 32).
__device__ float block_sum(float v) {
  __shared__ float warp_sums[kMaxThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  __syncthreads();  // a previous call's readers are done with warp_sums
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  const int warps = static_cast<int>(blockDim.x) / 32;
  float total = 0.f;
  for (int w = 0; w < warps; ++w) total += warp_sums[w];
  return total;
}

template <typename T, int N>
__global__ void row_norm_kernel(RowNormArgs a) {
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int D = a.row_size, packs = D / N;
  const int64_t row_offset = int64_t(blockIdx.x) * D;
  const T* x = static_cast<const T*>(a.x) + row_offset;
  const bool layer = a.kind == NormKind::kLayer;

  float sum = 0.f;  // of x (layer norm) or x^2 (RMS)
  for (int p = threadIdx.x; p < packs; p += blockDim.x) {
    const Pack<T, N> xp = load_pack<T, N>(x, p);
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float v = to_float(xp.v[j]);
      sum += layer ? v : v * v;
    }
  }
  sum = block_sum(sum);
  float mean = 0.f, mean_square = sum / D;  // mean_square: of x - mean
  if (layer) {
    mean = sum / D;
    float squares = 0.f;
    for (int p = threadIdx.x; p < packs; p += blockDim.x) {
      const Pack<T, N> xp = load_pack<T, N>(x, p);
#pragma unroll
      for (int j = 0; j < N; ++j) {
        const float centred = to_float(xp.v[j]) - mean;
        squares += centred * centred;
      }
    }
    mean_square = block_sum(squares) / D;
  }
  const float inverse_rms = rsqrtf(mean_square + a.eps);

  const int64_t weight_offset = int64_t(blockIdx.x % a.weight_rows) * D;
  const T* weight = a.weight ? static_cast<const T*>(a.weight) + weight_offset : nullptr;
  const T* bias = a.bias ? static_cast<const T*>(a.bias) + weight_offset : nullptr;
  const int64_t gate_offset =
      int64_t(blockIdx.x / a.weight_rows) * a.gate_position_stride + weight_offset;
  const T* gate = a.gate ? static_cast<const T*>(a.gate) + gate_offset : nullptr;
  T* y = static_cast<T*>(a.y) + row_offset;
  for (int p = threadIdx.x; p < packs; p += blockDim.x) {
    const Pack<T, N> xp = load_pack<T, N>(x, p);
    Pack<T, N> wp, bp, gp, out;
    if (weight) wp = load_pack<T, N>(weight, p);
    if (bias) bp = load_pack<T, N>(bias, p);
    if (gate) gp = load_pack<T, N>(gate, p);
#pragma unroll
    for (int j = 0; j < N; ++j) {
      // Each step rounded as the ATen ops store it: normed.to(dtype) * weight + bias, then
      // sigmoid(gate) * that.
      float v = rounded<T>((to_float(xp.v[j]) - mean) * inverse_rms);
      if (weight) v = rounded<T>(v * to_float(wp.v[j]));
      if (bias) v = rounded<T>(v + to_float(bp.v[j]));
      if (gate) v = rounded<T>(exact_sigmoid(to_float(gp.v[j]))) * v;
      out.v[j] = from_float<T>(v);
    }
    store_pack<T, N>(y, p, out);
  }
}

template <typename T, int N>
cudaError_t launch_packs(const RowNormArgs& a, cudaStream_t stream) {
  const int threads = std::min(kMaxThreads, round_up(a.row_size / N, 32));
  return launch_overlapping(row_norm_kernel<T, N>, a.rows, threads, 0, stream, a);
}

template <typename T>
cudaError_t launch(const RowNormArgs& a, cudaStream_t stream) {
  constexpr int wide = kWidePack<T>;
  constexpr int bytes = wide * sizeof(T);
  const bool packs_fit = a.row_size % wide == 0 && a.gate_position_stride % wide == 0 &&
                         aligned_to(a.x, bytes) && aligned_to(a.weight, bytes) &&
                         aligned_to(a.bias, bytes) && aligned_to(a.gate, bytes) &&
                         aligned_to(a.y, bytes);
  return packs_fit ? launch_packs<T, wide>(a, stream) : launch_packs<T, 1>(a, stream);
}

}  // namespace

cudaError_t row_norm(const RowNormArgs& args, cudaStream_t stream) {
  if (args.rows <= 0 || args.row_size <= 0 || args.weight_rows <= 0 || !args.x || !args.y ||
      (args.gate && args.gate_position_stride < int64_t(args.weight_rows) * args.row_size))
    return cudaErrorInvalidValue;
  return with_element_type(args.element_type,
                           [&](auto zero) { return launch<decltype(zero)>(args, stream); });
}

}  // namespace xlstm::kernels::norms
