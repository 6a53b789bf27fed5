// Shared pieces of the persistent sLSTM kernels: the launch plan (how a head's units and the batch
// are split over blocks), the group barrier, element conversion and the gate nonlinearities.
//
// Work split: a "group" is one head times one batch tile; its K blocks each own U hidden units of
// the head (all four gate rows of those units, so the pointwise step needs no exchange) and keep
// that slice of R in shared memory for the whole sequence. Per step a block multiplies its slice
// with the previous hidden state of the group (staged in shared memory), applies the pointwise cell
// update for its units, publishes y_t (dg_t in the backward pass) and meets the other K-1 blocks of
// its group. Groups are independent. Inside a block a "tile" is one unit times four batch rows; KS
// consecutive lanes split the reduction dimension of a tile and combine through warp shuffles; each
// thread owns at most one tile, so it loads its next step's inputs before the barrier.
//
// Two ways to exchange a step's results within a group:
// - cluster (sm_90, at most 16 blocks per group): the group is a thread-block cluster; blocks
// publish
//   into their own shared memory, meet at the hardware cluster barrier and read each other's shared
//   memory (distributed shared memory). Clusters are scheduled whole.
// - global (any GPU): blocks publish through global memory (L2) and meet at an atomic counter; the
//   launch is cooperative so that all blocks of a wave are resident, groups run in waves.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

#include "slstm/slstm_kernels.h"

namespace xlstm::kernels::slstm::detail {

constexpr int kThreads = 256;
constexpr int kBatchGroup = 4;  // batch rows per tile
constexpr int kPad = 4;         // floats of padding per shared-memory row (bank spread)

inline int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}
inline int round_up(int a, int b) {
  return ceil_div(a, b) * b;
}

enum class Direction { kForward, kBackward };

struct Plan {
  bool cluster = false;
  int batch_tile = 0;  // BT: batch rows per group
  int units = 0;       // U: hidden units per block
  int slices = 0;      // K: blocks per group
  int groups = 0;      // num_heads * ceil(batch / BT)
  int split_k = 1;     // KS: lanes per tile
  int tiles = 0;       // U * ceil(BT / 4)
  int ld = 0;          // shared-memory row stride in floats
  std::size_t smem_bytes = 0;
  double step_cost = 0.0;  // estimated cycles per step of one wave
  double cost = 0.0;       // times the waves
};

// The part of a plan that the kernels read (group0: first group of the launch).
struct Split {
  int cluster, batch_tile, units, slices, split_k, tiles, ld, group0;
};

inline Split split_of(const Plan& p) {
  return {p.cluster ? 1 : 0, p.batch_tile, p.units, p.slices, p.split_k, p.tiles, p.ld, 0};
}

// What every kernel's parameters start with: the split (set at launch) and the sizes.
struct KernelDims {
  Split split;
  int steps, batch, num_heads, head_dim, hidden;
};

inline KernelDims kernel_dims(const Sizes& s) {
  return {Split{}, s.steps, s.batch, s.num_heads, s.head_dim, s.num_heads * s.head_dim};
}

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

// Forward rows are the 4*U gate rows of length DH; backward rows are the U columns of R (length
// 4*DH) and the tile holds dg_{t+1} (length 4*DH per batch row).
// Both end with the cluster mode's two publish buffers ([2][BT][U] y values, [2][BT][4][U] dg).
inline std::size_t smem_bytes(Direction dir, int head_dim, int units, int batch_tile) {
  const int bt4 = round_up(batch_tile, kBatchGroup);
  if (dir == Direction::kForward) {
    const std::size_t ld = head_dim + kPad;
    return sizeof(float) *
           ((4 * units + bt4) * ld + 3 * units * batch_tile + 4 * units + 2 * batch_tile * units);
  }
  const std::size_t ld = 4 * head_dim + kPad;
  return sizeof(float) * ((units + bt4) * ld + 2 * units * batch_tile + 8 * batch_tile * units);
}

constexpr int kMaxClusterBlocks = 16;  // non-portable cluster size on sm_90

struct DeviceLimits {
  int sms = 0;
  int smem_optin = 0;
  int major = 0;
};

inline cudaError_t device_limits(DeviceLimits* limits) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&limits->sms, cudaDevAttrMultiProcessorCount, device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&limits->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                 device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&limits->major, cudaDevAttrComputeCapabilityMajor, device);
  return err;
}

// Chooses the batch tile and units per block that minimise an estimate of the time per step: the
// block's multiply-adds plus a fixed cost for the barrier, times the number of waves. In cluster
// mode `clusters_at_once(slices, smem_bytes)` says how many clusters of that shape the device holds
// at once (0: none). Returns a plan with slices == 0 when nothing fits.
template <typename ClustersAtOnce>
Plan make_plan(Direction dir, const Sizes& s, const DeviceLimits& lim, bool cluster,
               ClustersAtOnce clusters_at_once) {
  const int dh = s.head_dim;
  const double barrier_cycles = cluster ? 1000.0 : 3000.0, fma_per_cycle = 128.0;
  Plan best;
  double best_cost = 0.0;
  // Batch tiles: the whole batch when it is tiny, else 4, 8, 16, 32 up to the first that covers it.
  int candidates[4] = {std::min(s.batch, 4), 0, 0, 0};
  for (int i = 1; i < 4 && candidates[i - 1] < s.batch; ++i) candidates[i] = 2 * candidates[i - 1];
  for (int bt : candidates) {
    if (bt == 0) break;
    const int groups = s.num_heads * ceil_div(s.batch, bt);
    int max_units = 0;
    while (max_units < dh &&
           smem_bytes(dir, dh, max_units + 1, bt) <= static_cast<std::size_t>(lim.smem_optin))
      ++max_units;
    max_units = std::min(max_units, kThreads / ceil_div(bt, kBatchGroup));  // one tile a thread
    if (max_units == 0) continue;
    // Global mode: as many blocks per group as fill the device in one wave; cluster mode: each
    // power-of-two cluster size up to 16.
    int slice_options[5] = {
        ceil_div(dh, std::min(max_units, ceil_div(dh, std::max(1, lim.sms / groups)))), 0, 0, 0, 0};
    if (cluster)
      for (int i = 0; i < 5; ++i) slice_options[i] = 1 << i;
    for (int wanted : slice_options) {
      if (wanted == 0) break;
      const int units = ceil_div(dh, wanted), slices = ceil_div(dh, units);
      if (units > max_units || slices > (cluster ? kMaxClusterBlocks : lim.sms)) continue;
      int waves = ceil_div(groups * slices, lim.sms);
      if (cluster) {
        const int at_once = clusters_at_once(slices, smem_bytes(dir, dh, units, bt));
        if (at_once < 1) continue;
        waves = ceil_div(groups, at_once);
      }
      const double step_cost = barrier_cycles + 4.0 * units * round_up(bt, 4) * dh / fma_per_cycle;
      const double cost = waves * step_cost;
      if (best.slices == 0 || cost < best_cost) {
        best_cost = cost;
        best.step_cost = step_cost;
        best.batch_tile = bt;
        best.units = units;
        best.slices = slices;
        best.groups = groups;
      }
    }
  }
  if (best.slices == 0) return best;
  best.cluster = cluster;
  best.tiles = best.units * ceil_div(best.batch_tile, kBatchGroup);
  const int chunks = dir == Direction::kForward ? dh / 4 : dh;  // float4 chunks per row
  best.split_k = 32;
  while (best.split_k > 1 && (best.tiles * best.split_k > kThreads || best.split_k > chunks))
    best.split_k /= 2;
  best.cost = best_cost;
  best.ld = (dir == Direction::kForward ? dh : 4 * dh) + kPad;
  best.smem_bytes = smem_bytes(dir, dh, best.units, best.batch_tile);
  return best;
}

inline std::string check_sizes(const Sizes& s) {
  if (s.steps < 1 || s.batch < 1 || s.num_heads < 1)
    return "steps, batch and num_heads must be positive (got S=" + std::to_string(s.steps) +
           ", B=" + std::to_string(s.batch) + ", NH=" + std::to_string(s.num_heads) + ")";
  if (s.head_dim < 4 || s.head_dim % 4 != 0)
    return "head_dim must be a positive multiple of 4 (got " + std::to_string(s.head_dim) + ")";
  return {};
}

// ---- device helpers -----------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <>
__device__ __forceinline__ float to_float<__half>(__half v) {
  return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half(v);
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

__device__ __forceinline__ unsigned load_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// This block's place in the work split: its group (head, batch rows b0 .. b0 + nb - 1) and its
// units u0 .. u0 + nu - 1 of the head.
struct BlockPlace {
  int group, head, b0, nb, u0, nu;
};

__device__ __forceinline__ BlockPlace block_place(const Split& sp, int num_heads, int head_dim,
                                                  int batch) {
  BlockPlace b;
  b.group = sp.group0 + blockIdx.x / sp.slices;
  b.head = b.group % num_heads;
  b.b0 = (b.group / num_heads) * sp.batch_tile;
  b.nb = min(sp.batch_tile, batch - b.b0);
  b.u0 = (blockIdx.x % sp.slices) * sp.units;
  b.nu = min(sp.units, head_dim - b.u0);
  return b;
}

// ---- tensor cores: mma.sync.m16n8k16, bf16 / fp16 operands, float32 accumulation ----------------
// Fragments (PTX ISA, "mma.m16n8k16"): with gid = lane / 4, tig = lane % 4, A (row-major 16 x 16)
// a0 = (gid, 2tig..2tig+1), a1 = (gid+8, same k), a2 = (gid, 2tig+8..+9), a3 = (gid+8, 2tig+8..+9);
// B (16 x 8, "col") b0 = (k 2tig..2tig+1, n gid), b1 = (k 2tig+8..+9, n gid); C c0, c1 = (gid,
// 2tig..2tig+1), c2, c3 = (gid+8, 2tig..2tig+1).
constexpr int kMmaMaxKTiles = 16;  // A fragments a warp keeps in registers (4 registers each)
constexpr int kWarps = kThreads / 32;

template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                                          unsigned b1);
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&c)[4], const unsigned (&a)[4],
                                                         unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&c)[4], const unsigned (&a)[4],
                                                  unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <typename T>
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
  T v[2] = {from_float<T>(lo), from_float<T>(hi)};
  return *reinterpret_cast<unsigned*>(v);
}

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
__device__ __forceinline__ const float* cluster_peer(const float* p, int rank) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  return static_cast<const float*>(__cluster_map_shared_rank(const_cast<float*>(p), rank));
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

// Copies `rows` rows of `row_floats` floats (global row stride `src_stride`, rows past `valid_rows`
// zero) into shared memory with row stride `ld`, bypassing L1 (other blocks wrote the source).
__device__ __forceinline__ void stage_rows(float* dst, int ld, const float* src,
                                           std::size_t src_stride, int rows, int valid_rows,
                                           int row_floats) {
  const int chunks = row_floats / 4;
  for (int i = threadIdx.x; i < rows * chunks; i += kThreads) {
    const int row = i / chunks, c = i % chunks;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (row < valid_rows) v = __ldcg(reinterpret_cast<const float4*>(src + row * src_stride) + c);
    *reinterpret_cast<float4*>(dst + row * ld + 4 * c) = v;
  }
}

inline void cluster_config(cudaLaunchConfig_t* config, cudaLaunchAttribute* attribute, int slices,
                           std::size_t smem, cudaStream_t stream) {
  config->blockDim = dim3(kThreads);
  config->dynamicSmemBytes = smem;
  config->stream = stream;
  attribute->id = cudaLaunchAttributeClusterDimension;
  attribute->val.clusterDim.x = slices;
  attribute->val.clusterDim.y = 1;
  attribute->val.clusterDim.z = 1;
  config->attrs = attribute;
  config->numAttrs = 1;
}

// Cluster mode: one cluster per group.
template <typename Params>
cudaError_t launch_clusters(void (*kernel)(Params), Params params, const Plan& plan,
                            cudaStream_t stream) {
  cudaLaunchConfig_t config = {};
  cudaLaunchAttribute attribute;
  cluster_config(&config, &attribute, plan.slices, plan.smem_bytes, stream);
  config.gridDim = dim3(plan.groups * plan.slices);
  params.split = split_of(plan);
  return cudaLaunchKernelEx(&config, kernel, params);
}

// Global mode: launches `kernel` cooperatively (all blocks of a wave co-resident), groups in waves.
template <typename Params>
cudaError_t launch_waves(void (*kernel)(Params), Params params, const Plan& plan,
                         const DeviceLimits& lim, cudaStream_t stream) {
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(plan.smem_bytes));
  if (err != cudaSuccess) return err;
  int per_sm = 0;
  err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, plan.smem_bytes);
  if (err != cudaSuccess) return err;
  const int groups_per_wave = per_sm * lim.sms / plan.slices;
  if (groups_per_wave < 1) return cudaErrorCooperativeLaunchTooLarge;
  params.split = split_of(plan);
  for (int g0 = 0; g0 < plan.groups; g0 += groups_per_wave) {
    params.split.group0 = g0;
    const int groups = std::min(groups_per_wave, plan.groups - g0);
    void* args[] = {&params};
    err = cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel),
                                      dim3(groups * plan.slices), dim3(kThreads), args,
                                      plan.smem_bytes, stream);
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

inline Plan global_plan(Direction dir, const Sizes& s, const DeviceLimits& lim) {
  return make_plan(dir, s, lim, false, [](int, std::size_t) { return 0; });
}

// Launches in the global mode, or (when asked, on sm_90 and newer) in the cluster mode if its
// estimate is no worse.
template <typename Params>
cudaError_t launch(void (*kernel)(Params), Params params, Direction dir, const Sizes& s,
                   const DeviceLimits& lim, bool use_cluster, cudaStream_t stream) {
  const Plan global = global_plan(dir, s, lim);
  if (lim.major >= 9 && use_cluster) {
    cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, lim.smem_optin);
    if (err == cudaSuccess)
      err = cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    if (err != cudaSuccess) return err;
    const Plan cluster = make_plan(dir, s, lim, true, [&](int slices, std::size_t smem) {
      cudaLaunchConfig_t config = {};
      cudaLaunchAttribute attribute;
      cluster_config(&config, &attribute, slices, smem, nullptr);
      config.gridDim = dim3(slices);
      int clusters = 0;
      if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &config) != cudaSuccess) {
        cudaGetLastError();  // not sticky: clear it
        return 0;
      }
      return clusters;
    });
    if (cluster.slices != 0 && (global.slices == 0 || cluster.cost <= global.cost))
      return launch_clusters(kernel, params, cluster, stream);
  }
  if (global.slices == 0) return cudaErrorInvalidConfiguration;
  return launch_waves(kernel, params, global, lim, stream);
}

}  // namespace xlstm::kernels::slstm::detail
