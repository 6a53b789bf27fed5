// Shared pieces of the persistent sLSTM kernels: the launch plan (how a head's units and the batch
// are split over blocks), a block's place in it, and the launches of a plan. The pieces that are
// not sLSTM-specific (element conversion, barriers, tensor cores, launch helpers, device limits)
// are in kernels/common.
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
//   publish into their own shared memory, meet at the hardware cluster barrier and read each
//   other's shared memory (distributed shared memory). Clusters are scheduled whole.
// - global (any GPU): blocks publish through global memory (L2) and meet at an atomic counter; the
//   launch is cooperative so that all blocks of a wave are resident, groups run in waves.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

#include "common/barriers.cuh"
#include "common/convert.cuh"
#include "common/device_limits.cuh"
#include "common/launch.cuh"
#include "common/math.cuh"
#include "common/mma.cuh"
#include "slstm/slstm_kernels.h"

namespace xlstm::kernels::slstm::detail {

constexpr int kThreads = 256;
constexpr int kBatchGroup = 4;  // batch rows per tile
constexpr int kPad = 4;         // floats of padding per shared-memory row (bank spread)

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

// What forward() and backward() do first: check the sizes and read the device's limits.
inline cudaError_t prepare_launch(const Sizes& s, DeviceLimits* lim) {
  if (!check_sizes(s).empty()) return cudaErrorInvalidValue;
  return device_limits(lim);
}

// Zeroes the group barrier counters (at most one per head and batch row).
inline cudaError_t reset_counters(unsigned* counters, const Sizes& s, cudaStream_t stream) {
  return cudaMemsetAsync(counters, 0, sizeof(unsigned) * s.num_heads * s.batch, stream);
}

// ---- device helpers -----------------------------------------------------------------------------

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

constexpr int kWarps = kThreads / 32;

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

inline GroupedGrid grid_of(const Plan& plan) {
  return {plan.groups, plan.slices, kThreads, plan.smem_bytes};
}

// Cluster mode: one cluster per group.
template <typename Params>
cudaError_t launch_clusters(void (*kernel)(Params), Params params, const Plan& plan,
                            cudaStream_t stream) {
  params.split = split_of(plan);
  return kernels::launch_clusters(kernel, params, grid_of(plan), stream);
}

// Global mode: launches `kernel` cooperatively (all blocks of a wave co-resident), groups in waves.
template <typename Params>
cudaError_t launch_waves(void (*kernel)(Params), Params params, const Plan& plan,
                         const DeviceLimits& lim, cudaStream_t stream) {
  params.split = split_of(plan);
  return launch_cooperative_waves(
      kernel, params, grid_of(plan), lim.sms,
      [](Params& p, int first_group) { p.split.group0 = first_group; }, stream);
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
      return clusters_at_once(kernel, kThreads, slices, smem);
    });
    if (cluster.slices != 0 && (global.slices == 0 || cluster.cost <= global.cost))
      return launch_clusters(kernel, params, cluster, stream);
  }
  if (global.slices == 0) return cudaErrorInvalidConfiguration;
  return launch_waves(kernel, params, global, lim, stream);
}

}  // namespace xlstm::kernels::slstm::detail
