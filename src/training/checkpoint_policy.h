// When and where the training loop checkpoints (out_dir/checkpoints: every checkpoint_every steps,
// at the last step and when the run is stopped early) and what a run starts from (the newest
// intact checkpoint with resume). Over several ranks every rank reads the checkpoint and rank 0
// alone writes it, whole (ZeRO-1 moments gathered first), so any world size can resume it. Rank 0
// holds the lock on out_dir for the policy's lifetime and removes only checkpoints of its own run.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "run_dir.h"
#include "xlstm/training/checkpoint.h"
#include "xlstm/training/distributed.h"
#include "xlstm/training/trainer.h"

namespace xlstm {

class CheckpointPolicy {
 public:
  /// `sharding`: ZeRO-1's, or nullptr.
  CheckpointPolicy(const TrainerOptions& options, int64_t num_steps, torch::nn::Module& model,
                   torch::optim::AdamW& optimizer, const torch::Device& device,
                   const Communicator& communicator, OptimizerStateSharding* sharding);

  /// The state to start from. With out_dir: rank 0 creates and locks it (a second trainer there is
  /// refused); checkpoints there without resume are refused; with resume the checkpoint
  /// find_resume_point gives is loaded (weights, optimizer, RNG states). Then, unless there is
  /// nothing to do, rank 0 checks that out_dir and its checkpoints/ are writable. Else step 0.
  TrainingState start();
  /// Whether start() resumed a checkpoint at or past num_steps: nothing to train, no file to touch.
  bool nothing_to_do() const { return nothing_to_do_; }
  /// Checkpoints after `step` when one is due or `now` (an early stop); `data_position` is the
  /// next training example. Every rank calls it with the same arguments (with ZeRO-1 it is a
  /// collective). Once a checkpoint is complete, rank 0 removes the ones this run wrote before,
  /// the one it resumed from and what interrupted writes left; no other directory.
  void after_step(int64_t step, int64_t data_position, bool now = false);
  /// The newest checkpoint this run wrote ("" when none).
  const std::string& last_written() const { return last_written_; }

 private:
  std::string dir() const;
  void remove_superseded();

  const TrainerOptions& options_;
  int64_t num_steps_;
  torch::nn::Module& model_;
  torch::optim::AdamW& optimizer_;
  torch::Device device_;
  const Communicator& communicator_;
  OptimizerStateSharding* sharding_;
  std::optional<RunDirLock> lock_;
  int64_t start_step_ = 0;
  std::string resumed_from_;
  std::vector<std::string> written_;  // step directories of this run, oldest first
  std::string last_written_;
  bool nothing_to_do_ = false;
};

}  // namespace xlstm
