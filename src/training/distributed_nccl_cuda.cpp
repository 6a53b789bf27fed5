// The NCCL process group (CUDA builds; XLSTM_WITH_NCCL when CMake found nccl.h).
#include "distributed_c10d.h"

#ifdef XLSTM_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace xlstm {

c10::intrusive_ptr<C10dGroup> make_nccl_group(const c10::intrusive_ptr<c10d::Store>& store,
                                              const DistributedEnv& env,
                                              std::chrono::milliseconds timeout) {
#ifdef XLSTM_WITH_NCCL
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(env.local_rank));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
#else
  throw DistributedError(
      "device cuda with a process group needs NCCL, and this build has none "
      "(nccl.h was not found when it was configured)");
#endif
}

}  // namespace xlstm
