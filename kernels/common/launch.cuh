// Launches of persistent kernels whose blocks form independent groups that meet at barriers
// (common/barriers.cuh): a group is either one thread-block cluster, or a set of blocks that a
// cooperative launch keeps co-resident, groups in waves.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>

namespace xlstm::kernels {

// `groups` groups of `blocks_per_group` blocks of `threads` threads, with `smem_bytes` of dynamic
// shared memory per block.
struct GroupedGrid {
  int groups = 0;
  int blocks_per_group = 0;
  int threads = 0;
  std::size_t smem_bytes = 0;
};

// A launch configuration of thread-block clusters of `cluster_blocks` blocks.
inline void cluster_config(cudaLaunchConfig_t* config, cudaLaunchAttribute* attribute, int threads,
                           int cluster_blocks, std::size_t smem, cudaStream_t stream) {
  config->blockDim = dim3(threads);
  config->dynamicSmemBytes = smem;
  config->stream = stream;
  attribute->id = cudaLaunchAttributeClusterDimension;
  attribute->val.clusterDim.x = cluster_blocks;
  attribute->val.clusterDim.y = 1;
  attribute->val.clusterDim.z = 1;
  config->attrs = attribute;
  config->numAttrs = 1;
}

// How many clusters of `cluster_blocks` blocks of `kernel` the device holds at once (0: none).
template <typename Params>
int clusters_at_once(void (*kernel)(Params), int threads, int cluster_blocks, std::size_t smem) {
  cudaLaunchConfig_t config = {};
  cudaLaunchAttribute attribute;
  cluster_config(&config, &attribute, threads, cluster_blocks, smem, nullptr);
  config.gridDim = dim3(cluster_blocks);
  int clusters = 0;
  if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &config) != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it
    return 0;
  }
  return clusters;
}

// One cluster per group.
template <typename Params>
cudaError_t launch_clusters(void (*kernel)(Params), const Params& params, const GroupedGrid& grid,
                            cudaStream_t stream) {
  cudaLaunchConfig_t config = {};
  cudaLaunchAttribute attribute;
  cluster_config(&config, &attribute, grid.threads, grid.blocks_per_group, grid.smem_bytes, stream);
  config.gridDim = dim3(grid.groups * grid.blocks_per_group);
  return cudaLaunchKernelEx(&config, kernel, params);
}

// Cooperative launches (all blocks of a launch co-resident), as many groups per launch as fit;
// `set_first_group(params, g0)` tells the kernel the first group of each launch.
template <typename Params, typename SetFirstGroup>
cudaError_t launch_cooperative_waves(void (*kernel)(Params), Params params, const GroupedGrid& grid,
                                     int sms, SetFirstGroup set_first_group, cudaStream_t stream) {
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(grid.smem_bytes));
  if (err != cudaSuccess) return err;
  int per_sm = 0;
  err =
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, grid.threads, grid.smem_bytes);
  if (err != cudaSuccess) return err;
  const int groups_per_wave = per_sm * sms / grid.blocks_per_group;
  if (groups_per_wave < 1) return cudaErrorCooperativeLaunchTooLarge;
  for (int g0 = 0; g0 < grid.groups; g0 += groups_per_wave) {
    set_first_group(params, g0);
    const int groups = std::min(groups_per_wave, grid.groups - g0);
    void* args[] = {&params};
    err = cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel),
                                      dim3(groups * grid.blocks_per_group), dim3(grid.threads),
                                      args, grid.smem_bytes, stream);
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

}  // namespace xlstm::kernels
