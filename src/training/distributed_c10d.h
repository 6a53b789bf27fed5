// The c10d side of xlstm::Communicator, shared by the distributed*.cpp files. LibTorch
// 1.13's backends derive from c10d::ProcessGroup, 2.x's from c10d::Backend; both have the same
// collectives, so the code below holds whichever the installed version has.
#pragma once

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "xlstm/training/distributed.h"

namespace xlstm {

#if TORCH_VERSION_MAJOR >= 2
using C10dGroup = c10d::Backend;
#else
using C10dGroup = c10d::ProcessGroup;
#endif
using WorkHandle = c10::intrusive_ptr<c10d::Work>;

/// NCCL on cuda:local_rank (src/training/distributed_nccl_cuda.cpp); throws DistributedError in a
/// build without NCCL.
c10::intrusive_ptr<C10dGroup> make_nccl_group(const c10::intrusive_ptr<c10d::Store>& store,
                                              const DistributedEnv& env,
                                              std::chrono::milliseconds timeout);

struct Communicator::Impl {
  DistributedEnv env;
  DistributedOptions options;
  torch::Device device{torch::kCPU};
  c10::intrusive_ptr<c10d::Store> store;  // the rendezvous store (rank 0 serves it)
  c10::intrusive_ptr<C10dGroup> group;    // null for a world of 1
  std::atomic<int64_t> step{0};

  ~Impl();
  /// Waits for `work` (`what` names the collective); a failure becomes a DistributedError that
  /// names the rank that stopped.
  void wait(const WorkHandle& work, const std::string& what);
  /// The heartbeat thread: every interval it writes "<beat> <step>" under heartbeat/<rank>.
  void start_heartbeat();
  /// Which ranks look dead (heartbeat stopped) or behind (heartbeat alive, earlier step): read
  /// from the store after a failure; a store that cannot be read means rank 0 is gone.
  std::string diagnose();

 private:
  std::chrono::milliseconds heartbeat_interval() const;
  std::thread heartbeat_;
  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_stop_;
  bool stopping_ = false;
};

}  // namespace xlstm
