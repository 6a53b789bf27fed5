// Data-parallel training over PyTorch's c10d (docs/distributed.md): the process group from the
// environment torchrun and Slurm set (Gloo for the CPU, NCCL for CUDA), the gradient all-reduce in
// buckets overlapped with the backward pass, and ZeRO-1 optimizer-state sharding (a rank's share of
// a global batch: share_of_batch in batch.h). A world of one process builds no process group: every
// collective below is then a no-op.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace xlstm {

/// A failure of the distributed run (set-up, a collective, a rank that died or hangs); the message
/// names the environment variable, the address or the rank.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where this process sits in the job.
struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  ///< index among the ranks of this machine (the GPU it uses)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;  ///< the rendezvous store's port on master_addr (rank 0 listens)

  /// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (torchrun and the built-in launcher);
  /// without WORLD_SIZE: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID (srun); neither: a world of 1.
  /// MASTER_ADDR may be left out on one machine (127.0.0.1). Throws DistributedError naming the
  /// variable that is malformed or missing.
  static DistributedEnv from_environment();
};

/// MASTER_PORT when it is set (DistributedError unless it is an integer in 1..65535), else
/// `fallback`.
int master_port_from_environment(int fallback);

struct DistributedOptions {
  /// "cpu": Gloo; "cuda": NCCL on cuda:local_rank.
  std::string device = "cpu";
  /// How long set-up, the rendezvous and every collective may wait for the other ranks.
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
  /// Builds a process group even for a world of 1 (to measure what it costs).
  bool group_for_single_process = false;
};

/// One process of the job and its c10d process group. Collectives must be called by every rank in
/// the same order; one that fails or times out throws DistributedError naming the rank that
/// stopped (a heartbeat in the rendezvous store tells a dead rank from a hung one).
class Communicator {
 public:
  /// Joins the job `env` describes: rank 0 hosts the store on MASTER_PORT, the others connect,
  /// all wait until every rank has joined, then build the Gloo / NCCL group. A world of 1 (unless
  /// group_for_single_process) returns a communicator without a group.
  static std::shared_ptr<Communicator> connect(const DistributedEnv& env,
                                               const DistributedOptions& options);
  /// A single process without a group.
  static std::shared_ptr<Communicator> single_process();
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const;
  int size() const;
  bool is_main() const { return rank() == 0; }
  /// Whether a process group exists (false for a world of 1).
  bool has_group() const;
  /// "gloo", "nccl" or "none".
  std::string backend() const;
  /// The device this rank computes on: cpu, or cuda:local_rank.
  torch::Device device() const;

  /// Sums every tensor over the ranks, in place (one collective per dtype and device).
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors);
  /// Copies `root`'s values of every tensor into the others' (one collective per dtype and device).
  void broadcast(const std::vector<torch::Tensor>& tensors, int root);
  void barrier();
  /// The step this rank works on: the heartbeat publishes it, so that a failure message can name a
  /// rank that fell behind.
  void report_step(int64_t step);

  struct Impl;
  /// The c10d side, for GradientSync and OptimizerStateSharding (src/training/distributed_c10d.h).
  Impl& impl() const { return *impl_; }

 private:
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Copies rank 0's parameters and buffers of `module` to every rank.
void broadcast_module(Communicator& communicator, const torch::nn::Module& module);

struct GradientSyncOptions {
  /// Gradients of up to this many bytes share one all-reduce (DDP's bucket_cap_mb, 25 MiB).
  int64_t bucket_bytes = 25 << 20;
};

/// DDP's gradient synchronisation: the parameters' gradients live in a few flat buckets (in the
/// reverse order of `parameters`, roughly the order backward produces them); a hook on each
/// gradient accumulator starts the all-reduce of a bucket as soon as all its gradients are done,
/// while backward goes on with the layers below. Buckets are reduced in the same order on every
/// rank. The result is the SUM over the ranks: the caller scales each rank's loss so that the
/// sum is the gradient it wants (the trainer: token-loss sum / global token count).
class GradientSync {
 public:
  /// `parameters` must be the same tensors, in the same order, on every rank. Without a group
  /// GradientSync does nothing.
  GradientSync(std::shared_ptr<Communicator> communicator, std::vector<torch::Tensor> parameters,
               GradientSyncOptions options = {});
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  /// Call before each backward. `sync` false: the gradients only accumulate locally (the inner
  /// steps of gradient accumulation); true: this backward's hooks start the all-reduces.
  void begin_backward(bool sync);
  /// After the backward of a `sync` step: starts the buckets no hook started (parameters without a
  /// gradient in this backward), waits for all of them. The gradients are then the sums.
  void finish();

  size_t bucket_count() const;
  /// Buckets whose all-reduce a hook started during the last sync backward (not finish()).
  size_t buckets_started_in_backward() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// ZeRO stage 1 for torch::optim::AdamW: each parameter has one owner rank (sizes balanced
/// greedily), and only the owner keeps its AdamW moments and updates it; then every parameter is
/// broadcast from its owner. The gradients stay whole (all-reduced as without sharding), so
/// clipping and the update are those of the unsharded optimizer. Without a group every parameter
/// is this rank's.
class OptimizerStateSharding {
 public:
  OptimizerStateSharding(std::shared_ptr<Communicator> communicator,
                         std::vector<torch::Tensor> parameters);

  int owner(size_t parameter_index) const;
  /// optimizer.step() with the gradients of the other ranks' parameters hidden (AdamW skips a
  /// parameter without a gradient), then the updated parameters broadcast from their owners.
  void step(torch::optim::AdamW& optimizer);
  /// Drops the moments of the parameters other ranks own (after every rank loaded a whole
  /// optimizer state from a checkpoint, and after saving one).
  void drop_foreign_state(torch::optim::AdamW& optimizer);
  /// Collective: rank 0's optimizer receives every parameter's moments from its owner, so that it
  /// holds the whole state (to save a checkpoint that any world size can resume).
  void gather_state_to_main(torch::optim::AdamW& optimizer);

 private:
  std::shared_ptr<Communicator> communicator_;
  std::vector<torch::Tensor> parameters_;
  std::vector<int> owners_;
};

/// The AdamW moments `optimizer` keeps for parameter `p`; nullptr before its first step.
const torch::optim::AdamWParamState* adamw_state(const torch::optim::AdamW& optimizer,
                                                 const torch::Tensor& p);

}  // namespace xlstm
