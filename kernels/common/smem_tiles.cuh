// Shared-memory tiles for tensor-core products (sm_80 and newer): asynchronous global-to-shared
// copies (cp.async, zero-filling rows past the data) and ldmatrix loads of mma.m16n8k16 operand
// fragments (layouts in common/mma.cuh) from row-major shared matrices, with or without a
// transpose. Leading dimensions are in elements; rows should be padded by 16 bytes (ld = cols + 8)
// so that the eight rows of one 8 x 8 matrix fall into different banks.
#pragma once

#include <cuda_runtime.h>

namespace xlstm::kernels {

__device__ __forceinline__ unsigned shared_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// 16 bytes from global to shared, or 16 zero bytes when !valid (src is then not read).
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)),
               "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
// Waits until at most `pending` of this thread's committed groups are still in flight.
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
}

// The A fragment of the 16 x 16 tile at (row0, k0) of A stored row-major [m][k].
template <typename T>
__device__ __forceinline__ void load_a_tile(unsigned (&a)[4], const T* s, int ld, int row0,
                                            int k0) {
  const int lane = threadIdx.x % 32;
  ldmatrix_x4(a, s + (row0 + lane % 16) * ld + k0 + (lane / 16) * 8);
}
// The same with A stored transposed, [k][m] (A = S^T).
template <typename T>
__device__ __forceinline__ void load_a_tile_trans(unsigned (&a)[4], const T* s, int ld, int row0,
                                                  int k0) {
  const int lane = threadIdx.x % 32, j = lane / 8;
  ldmatrix_x4_trans(a, s + (k0 + (j / 2) * 8 + lane % 8) * ld + row0 + (j % 2) * 8);
}
// B fragments of two neighbouring n-tiles (n0 .. n0 + 15) at k0 .. k0 + 15: b[0], b[1] of the
// first, b[2], b[3] of the second. B stored [n][k] (k contiguous).
template <typename T>
__device__ __forceinline__ void load_b_pair(unsigned (&b)[4], const T* s, int ld, int n0, int k0) {
  const int lane = threadIdx.x % 32, j = lane / 8;
  ldmatrix_x4(b, s + (n0 + (j / 2) * 8 + lane % 8) * ld + k0 + (j % 2) * 8);
}
// The same with B stored [k][n] (n contiguous).
template <typename T>
__device__ __forceinline__ void load_b_pair_trans(unsigned (&b)[4], const T* s, int ld, int n0,
                                                  int k0) {
  const int lane = threadIdx.x % 32, j = lane / 8;
  ldmatrix_x4_trans(b, s + (k0 + (j % 2) * 8 + lane % 8) * ld + n0 + (j / 2) * 8);
}

}  // namespace xlstm::kernels
