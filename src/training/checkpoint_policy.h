// When and where the training loop checkpoints (out_dir/checkpoints: every checkpoint_every steps
// and at the last step) and what a run starts from (the newest checkpoint with resume).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "xlstm/training/checkpoint.h"
#include "xlstm/training/trainer.h"

namespace xlstm {

class CheckpointPolicy {
 public:
  CheckpointPolicy(const TrainerOptions& options, int64_t num_steps, torch::nn::Module& model,
                   torch::optim::Optimizer& optimizer, const torch::Device& device);

  /// The state to start from. With out_dir: creates it, refuses a checkpoint there without
  /// resume, and with resume loads the newest one (weights, optimizer, RNG states). Else step 0.
  TrainingState start();
  /// Checkpoints after `step` when one is due; `data_position` is the next training example.
  void after_step(int64_t step, int64_t data_position);

 private:
  std::string dir() const;

  const TrainerOptions& options_;
  int64_t num_steps_;
  torch::nn::Module& model_;
  torch::optim::Optimizer& optimizer_;
  torch::Device device_;
};

}  // namespace xlstm
