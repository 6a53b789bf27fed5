// Timing and reporting shared by the xlstm-bench subcommands.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#ifdef XLSTM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace xlstm::bench {

/// The first line of `message`, with the characters a JSON string cannot hold as they are (" and
/// \) replaced by ': a benchmark row's "error".
inline std::string json_safe_first_line(const std::string& message) {
  std::string line = message.substr(0, message.find('\n'));
  for (char& c : line)
    if (c == '"' || c == '\\') c = '\'';
  return line;
}

inline void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

/// Mean milliseconds per call of `fn`: `warmup` untimed calls, then `iters` calls between two
/// device synchronisations (how the peers' bench_peers.py times).
inline double mean_ms(const torch::Device& device, int warmup, int iters,
                      const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) fn();
  synchronize(device);
  const std::chrono::duration<double, std::milli> total = std::chrono::steady_clock::now() - start;
  return total.count() / iters;
}

/// Resident set high-water mark of this process in MiB (Linux), -1 when unknown.
inline double peak_rss_mib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmHWM: %lf kB", &kib) == 1) break;
  std::fclose(f);
  return kib / 1024.0;
}

#ifdef XLSTM_WITH_CUDA
inline c10::DeviceIndex cuda_index(const torch::Device& device) {
  return device.has_index() ? device.index() : c10::cuda::current_device();
}
#endif

/// Peak memory since the last reset in MiB: the CUDA caching allocator's peak of allocated bytes
/// on a CUDA device, else the process's resident set high-water mark (which never resets).
inline double peak_memory_mib(const torch::Device& device) {
#ifdef XLSTM_WITH_CUDA
  if (device.is_cuda())
    return c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_index(device))
               .allocated_bytes[0]
               .peak /
           (1024.0 * 1024.0);
#endif
  return device.is_cuda() ? -1 : peak_rss_mib();
}

inline void reset_peak_memory(const torch::Device& device) {
#ifdef XLSTM_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(device));
#endif
  (void)device;
}

}  // namespace xlstm::bench
