// Building blocks of the chunkwise mLSTM backward kernels: tile copies into shared memory, a
// warp's product of shared-memory operands on tensor cores (common/smem_tiles.cuh fragments), and
// the per-chunk gate quantities (chunkwise_kernels.h names them) with the block scans they need.
#pragma once

#include <cmath>
#include <cstddef>

#include "common/convert.cuh"
#include "common/math.cuh"
#include "common/mma.cuh"
#include "common/smem_tiles.cuh"

namespace xlstm::kernels::mlstm {

constexpr int kTile = 64;             // head-dim columns per tile
constexpr int kTileLd = kTile + 8;    // its shared row stride (16 bytes of padding)
constexpr float kNegInf = -INFINITY;  // "no history" stabiliser

// rows x cols (cols % 8 == 0) of T from global (row stride ldg) into shared (row stride lds),
// asynchronously; rows >= valid_rows are zero. Commit and wait with cp_async_commit / _wait.
template <typename T>
__device__ __forceinline__ void async_load_tile(T* s, int lds, const T* g, std::size_t ldg,
                                                int rows, int cols, int valid_rows) {
  const int vectors = cols / 8;
  for (int i = threadIdx.x; i < rows * vectors; i += blockDim.x) {
    const int r = i / vectors, c = (i % vectors) * 8;
    const bool ok = r < valid_rows;
    cp_async_16(s + r * lds + c, g + static_cast<std::size_t>(ok ? r : 0) * ldg + c, ok);
  }
}

__device__ __forceinline__ void cp_async_wait_all_and_sync() {
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
}

// acc[nt] += A[m0 .. m0 + 15][k_begin .. k_end) B[k_begin .. k_end)[8 nt .. 8 nt + 7] for
// nt < kNTiles (even), k_begin and k_end multiples of 16. A is stored [m][k] (kATrans false) or
// [k][m]; B [n][k] (kBTrans false) or [k][n].
template <typename T, bool kATrans, bool kBTrans, int kNTiles>
__device__ __forceinline__ void warp_tile_mma(float (&acc)[kNTiles][4], const T* A, int lda,
                                              const T* B, int ldb, int m0, int k_begin, int k_end) {
  for (int k0 = k_begin; k0 < k_end; k0 += 16) {
    unsigned a[4];
    if constexpr (kATrans)
      load_a_tile_trans(a, A, lda, m0, k0);
    else
      load_a_tile(a, A, lda, m0, k0);
#pragma unroll
    for (int nt = 0; nt < kNTiles; nt += 2) {
      unsigned b[4];
      if constexpr (kBTrans)
        load_b_pair_trans(b, B, ldb, nt * 8, k0);
      else
        load_b_pair(b, B, ldb, nt * 8, k0);
      mma_16816<T>(acc[nt], a, b[0], b[1]);
      mma_16816<T>(acc[nt + 1], a, b[2], b[3]);
    }
  }
}

// Runs body(d0, stage) for d0 = 0, 64, .. < dim, the tiles of step d0 copied by issue(d0, stage)
// into one of two stages of `stage_elems` elements at smem: the next step's copies overlap the
// current step's products.
template <typename T, typename Issue, typename Body>
__device__ __forceinline__ void double_buffered(T* smem, int stage_elems, int dim, Issue issue,
                                                Body body) {
  const int steps = dim / kTile;
  issue(0, smem);
  cp_async_commit();
  for (int i = 0; i < steps; ++i) {
    if (i + 1 < steps) {
      issue((i + 1) * kTile, smem + ((i + 1) % 2) * stage_elems);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    body(i * kTile, smem + (i % 2) * stage_elems);
    __syncthreads();
  }
}

// Row and column of accumulator element e (0..3) of n-tile nt of a warp's tile at row m0.
__device__ __forceinline__ int acc_row(int m0, int e) {
  return m0 + (threadIdx.x % 32) / 4 + (e / 2) * 8;
}
__device__ __forceinline__ int acc_col(int nt, int e) {
  return nt * 8 + (threadIdx.x % 4) * 2 + e % 2;
}

// Inclusive prefix sum of x over threads 0 .. n - 1 (n <= 1024, a multiple of 32; threads past n
// pass 0). Every thread of the block calls it; warp_totals holds 32 floats.
__device__ __forceinline__ float block_inclusive_scan(float x, int n, float* warp_totals) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int o = 1; o < 32; o *= 2) {
    const float y = __shfl_up_sync(0xffffffffu, x, o);
    if (lane >= o) x += y;
  }
  if (lane == 31 && warp < n / 32) warp_totals[warp] = x;
  __syncthreads();
  for (int w = 0; w < warp && w < n / 32; ++w) x += warp_totals[w];
  __syncthreads();
  return x;
}

// The maximum (kMax) or sum of x over the block; every thread calls it and gets the result.
template <bool kMax>
__device__ __forceinline__ float block_reduce(float x, float* warp_totals) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
#pragma unroll
  for (int o = 16; o > 0; o /= 2) {
    const float y = __shfl_xor_sync(0xffffffffu, x, o);
    x = kMax ? fmaxf(x, y) : x + y;
  }
  if (lane == 0) warp_totals[warp] = x;
  __syncthreads();
  x = warp_totals[0];
  for (int w = 1; w < warps; ++w) x = kMax ? fmaxf(x, warp_totals[w]) : x + warp_totals[w];
  __syncthreads();
  return x;
}

// One chunk's gate quantities (chunkwise_kernels.h): positions past the sequence have i = -inf and
// log f = 0.
template <int L>
struct ChunkGates {
  float b[L];      // b_t, the cumulative log forget gate inside the chunk
  float ig[L];     // i_t
  float m_row[L];  // m_t (0 past the sequence)
  float m_prev;    // m_c
  float decay;     // exp(g + m_c - m_{c+1}), the weight of C_c in C_{c+1}
  float m_next;    // m_{c+1}
  float scratch[32];
};

// Fills `cg` for the chunk starting at position t0 of the head whose gates start at igate / fgate
// (valid positions of the chunk: `valid`); needs blockDim.x >= L. Ends with a barrier.
template <int L>
__device__ void load_chunk_gates(ChunkGates<L>& cg, const float* igate, const float* fgate,
                                 const float* row_m, float m_prev, int t0, int valid) {
  const int t = threadIdx.x;
  const bool ok = t < valid;
  const float lf = ok ? logsigmoid(fgate[t0 + t]) : 0.f;
  const float b = block_inclusive_scan(t < L ? lf : 0.f, L, cg.scratch);
  if (t < L) {
    cg.b[t] = b;
    cg.ig[t] = ok ? igate[t0 + t] : kNegInf;
    cg.m_row[t] = ok ? row_m[t0 + t] : 0.f;
  }
  __syncthreads();
  const float g_total = cg.b[L - 1];
  const float a = t < L && ok ? g_total - b + cg.ig[t] : kNegInf;
  const float a_max = block_reduce<true>(a, cg.scratch);
  if (t == 0) {
    cg.m_prev = m_prev;
    cg.m_next = fmaxf(g_total + m_prev, a_max);
    cg.decay = expf(g_total + m_prev - cg.m_next);
  }
  __syncthreads();
}

}  // namespace xlstm::kernels::mlstm
