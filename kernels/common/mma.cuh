// Tensor cores: mma.sync.m16n8k16 with bf16 / fp16 operands and float32 accumulation, and the warp
// level fragment loads and products built on it.
// Fragments (PTX ISA, "mma.m16n8k16"): with gid = lane / 4, tig = lane % 4, A (row-major 16 x 16)
// a0 = (gid, 2tig..2tig+1), a1 = (gid+8, same k), a2 = (gid, 2tig+8..+9), a3 = (gid+8, 2tig+8..+9);
// B (16 x 8, "col") b0 = (k 2tig..2tig+1, n gid), b1 = (k 2tig+8..+9, n gid); C c0, c1 = (gid,
// 2tig..2tig+1), c2, c3 = (gid+8, 2tig..2tig+1).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>

#include "common/convert.cuh"

namespace xlstm::kernels {

constexpr int kMmaMaxKTiles = 16;  // A fragments a warp keeps in registers (4 registers each)

// c += A B for one m16n8k16 tile; `type` is the PTX name of the operand type.
#define XLSTM_MMA_16816(type, c, a, b0, b1)                                 \
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." type "." type       \
               ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])             \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1))

template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                                          unsigned b1);
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&c)[4], const unsigned (&a)[4],
                                                         unsigned b0, unsigned b1) {
  XLSTM_MMA_16816("bf16", c, a, b0, b1);
}
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&c)[4], const unsigned (&a)[4],
                                                  unsigned b0, unsigned b1) {
  XLSTM_MMA_16816("f16", c, a, b0, b1);
}
#undef XLSTM_MMA_16816

// A warp's A fragments for k-tiles kt0 .. kt0 + nkt - 1 (the rest zero): rows row_base + {gid,
// gid + 8} of a float32 matrix with row stride `ld` (rows >= valid_rows zero), rounded to T.
template <typename T>
__device__ __forceinline__ void load_a_fragments(unsigned (&a)[kMmaMaxKTiles][4], const float* m,
                                                 std::size_t ld, int row_base, int valid_rows,
                                                 int kt0, int nkt) {
  const int lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const int row0 = row_base + gid, row1 = row0 + 8;
  const float* r0 = m + static_cast<std::size_t>(max(0, min(row0, valid_rows - 1))) * ld;
  const float* r1 = m + static_cast<std::size_t>(max(0, min(row1, valid_rows - 1))) * ld;
#pragma unroll
  for (int i = 0; i < kMmaMaxKTiles; ++i) {
    const int k = (kt0 + i) * 16 + tig * 2;
    const bool ok0 = i < nkt && row0 < valid_rows, ok1 = i < nkt && row1 < valid_rows;
    a[i][0] = ok0 ? pack2<T>(r0[k], r0[k + 1]) : 0u;
    a[i][1] = ok1 ? pack2<T>(r1[k], r1[k + 1]) : 0u;
    a[i][2] = ok0 ? pack2<T>(r0[k + 8], r0[k + 9]) : 0u;
    a[i][3] = ok1 ? pack2<T>(r1[k + 8], r1[k + 9]) : 0u;
  }
}

// A warp's share of C = A B over its k-tiles: B (k x 8) is staged in shared memory as 8 rows (one
// per n) with row stride ldb; two accumulator chains (even / odd k-tiles); the 16 x 8 result goes
// to `cb` with row stride 9 (bank spread).
template <typename T>
__device__ __forceinline__ void mma_rows(const unsigned (&a)[kMmaMaxKTiles][4], const T* b, int ldb,
                                         int kt0, int nkt, float* cb) {
  const int lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  float acc[2][4] = {};
#pragma unroll
  for (int i = 0; i < kMmaMaxKTiles; ++i) {
    if (i >= nkt) break;
    const int k = (kt0 + i) * 16 + tig * 2;
    const unsigned b0 = *reinterpret_cast<const unsigned*>(b + gid * ldb + k);
    const unsigned b1 = *reinterpret_cast<const unsigned*>(b + gid * ldb + k + 8);
    mma_16816<T>(acc[i % 2], a[i], b0, b1);
  }
  cb[gid * 9 + tig * 2] = acc[0][0] + acc[1][0];
  cb[gid * 9 + tig * 2 + 1] = acc[0][1] + acc[1][1];
  cb[(gid + 8) * 9 + tig * 2] = acc[0][2] + acc[1][2];
  cb[(gid + 8) * 9 + tig * 2 + 1] = acc[0][3] + acc[1][3];
}

}  // namespace xlstm::kernels
