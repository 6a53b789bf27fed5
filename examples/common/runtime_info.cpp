#include "runtime_info.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/types.h>

namespace xlstm::apps {
namespace {

/// A short name for a BLAS file: OpenBLAS, the reference (netlib) BLAS, MKL, BLIS or "other".
std::string blas_name(const std::string& file) {
  for (const auto& [needle, name] :
       {std::pair{"openblas", "OpenBLAS"}, std::pair{"mkl", "MKL"}, std::pair{"blis", "BLIS"},
        std::pair{"atlas", "ATLAS"}, std::pair{"/blas/", "reference BLAS (netlib): slow"}})
    if (file.find(needle) != std::string::npos) return name;
  return "other";
}

}  // namespace

int cpu_cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

int max_cpu_threads() {
  return std::max(4 * cpu_cores(), 64);
}

void set_cpu_threads(int threads) {
  if (threads < 0 || threads > max_cpu_threads()) {
    throw std::invalid_argument(
        "--threads " + std::to_string(threads) +
        ": must be between 0 (one per core: " + std::to_string(cpu_cores()) + ") and " +
        std::to_string(max_cpu_threads()) + " (max(4 x cores, 64))");
  }
  if (threads == 0) {
    const char* from_environment = std::getenv("OMP_NUM_THREADS");
    threads = from_environment ? std::atoi(from_environment) : 0;
    if (threads <= 0 || threads > max_cpu_threads()) threads = cpu_cores();
  }
  at::set_num_threads(threads);
}

std::string blas_library() {
  void* symbol = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr)
    return "unknown";
  std::error_code error;
  const auto resolved = std::filesystem::canonical(info.dli_fname, error);
  return error ? std::string(info.dli_fname) : resolved.string();
}

std::string cpu_runtime_report() {
  const std::string blas = blas_library();
  std::ostringstream line;
  line << "CPU: BLAS " << blas << " (" << blas_name(blas) << "), " << at::get_num_threads()
       << " intra-op threads of " << cpu_cores() << " cores, " << at::get_num_interop_threads()
       << " inter-op";
  return line.str();
}

void require_device(const std::string& name) {
  std::optional<torch::Device> device;
  try {
    device.emplace(name);
  } catch (const c10::Error&) {
    throw std::invalid_argument("--device '" + name + "' is not a device (cpu, cuda, cuda:N)");
  }
  if (device->is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("--device " + name +
                                ": no CUDA device is available to this process");
  if (!device->is_cpu() && !device->is_cuda())
    throw std::invalid_argument("--device " + name + ": the binaries run on cpu or cuda");
}

}  // namespace xlstm::apps
