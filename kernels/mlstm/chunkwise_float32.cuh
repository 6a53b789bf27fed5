// The float32 chunkwise mLSTM kernels (chunkwise_float32_forward.cu,
// chunkwise_float32_backward.cu): the launchers that chunkwise_forward / chunkwise_backward
// dispatch to for ElementType::kFloat32, and their shared building blocks. float32 arithmetic
// throughout (plain FMA, no tf32 tensor cores, whose 10-bit mantissa misses the 1e-4 the float32
// path promises): 64 x 64 tiles in shared memory, each of 256 threads owning a strided 4 x 4
// micro-tile of a 64 x 64 product.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "mlstm/chunkwise_kernels.h"

namespace xlstm::kernels::mlstm {

cudaError_t chunkwise_forward_float32(const ChunkwiseForwardArgs& args, cudaStream_t stream);
cudaError_t chunkwise_backward_float32(const ChunkwiseBackwardArgs& args, cudaStream_t stream);
std::size_t chunkwise_backward_float32_workspace_bytes(const ChunkwiseShape& shape);

namespace simt {

constexpr int kTile = 64;       // rows and columns of a shared tile (the chunk size, too)
constexpr int kLd = kTile + 1;  // its row stride: an odd stride keeps every access pattern
                                // below free of bank conflicts
constexpr int kThreads = 256;   // 16 x 16 threads over a 64 x 64 product
constexpr int kTileFloats = kTile * kLd;

// Row (i) and column (j) of element [i][j] of this thread's micro-tile: rows ty + 16 i,
// columns tx + 16 j with ty = thread / 16, tx = thread % 16.
__device__ __forceinline__ int micro_row(int i) {
  return threadIdx.x / 16 + 16 * i;
}
__device__ __forceinline__ int micro_col(int j) {
  return threadIdx.x % 16 + 16 * j;
}

// 64 x 64 floats from global (row stride ldg) into a shared tile; rows >= valid are zero, and row
// r is multiplied by row_scale[r] when row_scale is given. Coalesced, no bank conflicts.
__device__ __forceinline__ void load_tile(float* s, const float* g, std::size_t ldg, int valid,
                                          const float* row_scale = nullptr) {
  for (int i = threadIdx.x; i < kTile * kTile; i += blockDim.x) {
    const int r = i / kTile, c = i % kTile;
    float x = r < valid ? g[r * ldg + c] : 0.f;
    if (row_scale) x *= row_scale[r];
    s[r * kLd + c] = x;
  }
}

// acc[i][j] += sum_k A(micro_row(i), k) B(k, micro_col(j)) over k < 64, for shared tiles A stored
// [m][k] (kATrans false) or [k][m] and B stored [n][k] (kBTrans false) or [k][n].
template <bool kATrans, bool kBTrans>
__device__ __forceinline__ void tile_fma(float (&acc)[4][4], const float* A, const float* B) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll 8
  for (int k = 0; k < kTile; ++k) {
    float a[4], b[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      a[i] = kATrans ? A[k * kLd + ty + 16 * i] : A[(ty + 16 * i) * kLd + k];
      b[i] = kBTrans ? B[k * kLd + tx + 16 * i] : B[(tx + 16 * i) * kLd + k];
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
  }
}

__device__ __forceinline__ void scale_all(float (&acc)[4][4], float x) {
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] *= x;
}

}  // namespace simt
}  // namespace xlstm::kernels::mlstm
