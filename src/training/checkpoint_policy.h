// When and where the training loop checkpoints (out_dir/checkpoints: every checkpoint_every steps
// and at the last step) and what a run starts from (the newest checkpoint with resume). Over
// several ranks every rank reads the checkpoint and rank 0 alone writes it, whole (ZeRO-1 moments
// gathered first), so any world size can resume it.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

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

  /// The state to start from. With out_dir: creates it, refuses a checkpoint there without
  /// resume, and with resume loads the newest one (weights, optimizer, RNG states). Else step 0.
  TrainingState start();
  /// Checkpoints after `step` when one is due; `data_position` is the next training example.
  /// Every rank calls it (with ZeRO-1 it is a collective).
  void after_step(int64_t step, int64_t data_position);

 private:
  std::string dir() const;

  const TrainerOptions& options_;
  int64_t num_steps_;
  torch::nn::Module& model_;
  torch::optim::AdamW& optimizer_;
  torch::Device device_;
  const Communicator& communicator_;
  OptimizerStateSharding* sharding_;
};

}  // namespace xlstm
