// What the CPU side of LibTorch runs on, for the binaries' logs and their --threads option: the
// BLAS library behind its matrix products (on Debian the one Debian's alternatives select for
// libblas.so.3: OpenBLAS after `apt-get install libopenblas0-pthread`, else the slow reference
// BLAS) and the number of intra-op threads.
#pragma once

#include <string>

namespace xlstm::apps {

/// Logical CPUs of this machine (std::thread::hardware_concurrency, at least 1).
int cpu_cores();

/// The largest accepted --threads value: max(4 x cpu_cores(), 64). The binaries check their
/// --threads option with CLI::Range(0, max_cpu_threads()), which names the bound when it refuses.
int max_cpu_threads();

/// Sets LibTorch's intra-op threads; 0: OMP_NUM_THREADS when set (launchers set it per rank), else
/// cpu_cores(). A negative value or one above max_cpu_threads() throws std::invalid_argument
/// naming --threads and the bound.
void set_cpu_threads(int threads);

/// The file of the BLAS library that LibTorch calls: the library holding the `sgemm_` symbol
/// (dladdr), its links resolved, e.g. /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3;
/// "unknown" when no such symbol is loaded.
std::string blas_library();

/// A device this process can use: the name parses ("cpu", "cuda", "cuda:N") and, for CUDA, a
/// device is there; std::invalid_argument naming --device otherwise.
void require_device(const std::string& name);

/// One line: "CPU: BLAS <file> (<name>), <n> intra-op threads of <cores> cores, <m> inter-op".
std::string cpu_runtime_report();

}  // namespace xlstm::apps
