// Barriers between the blocks of a persistent kernel: the hardware cluster barrier (sm_90) with
// distributed shared memory, and a split barrier on a global atomic counter (any GPU; the blocks
// must be co-resident, e.g. by a cooperative launch).
#pragma once

#include <cuda_runtime.h>

namespace xlstm::kernels {

__device__ __forceinline__ unsigned load_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// Cluster mode: split barrier of all threads of the cluster (arrive, independent work, wait); the
// release / acquire pair orders the shared-memory writes before it with the peers' reads after it.
__device__ __forceinline__ void cluster_arrive() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
#endif
}
__device__ __forceinline__ void cluster_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
#endif
}

// Cluster mode: the address of `p` (this block's shared memory) in the block of cluster rank
// `rank`.
template <typename V>
__device__ __forceinline__ V* cluster_peer(V* p, int rank) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  return static_cast<V*>(
      __cluster_map_shared_rank(const_cast<void*>(static_cast<const void*>(p)), rank));
#else
  return p;
#endif
}

// Global mode: split barrier of the blocks of a group (arrive, independent work, wait); each block
// arrives once per step and waits for `target` = blocks per group * steps done so far. The release
// arrival (after the block barrier) publishes the block's global writes, the acquire poll makes the
// others' visible. Loads issued between arrive and wait do not delay the release.
__device__ __forceinline__ void group_arrive(unsigned* counter) {
  __syncthreads();
  if (threadIdx.x == 0)
    asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory");
}
__device__ __forceinline__ void group_wait(const unsigned* counter, unsigned target) {
  if (threadIdx.x == 0)
    while (load_acquire(counter) < target) {
    }
  __syncthreads();
}

}  // namespace xlstm::kernels
