#include "checkpoint_policy.h"

#include <filesystem>

#include "progress_log.h"

namespace fs = std::filesystem;

namespace xlstm {

CheckpointPolicy::CheckpointPolicy(const TrainerOptions& options, int64_t num_steps,
                                   torch::nn::Module& model, torch::optim::AdamW& optimizer,
                                   const torch::Device& device, const Communicator& communicator,
                                   OptimizerStateSharding* sharding)
    : options_(options),
      num_steps_(num_steps),
      model_(model),
      optimizer_(optimizer),
      device_(device),
      communicator_(communicator),
      sharding_(sharding) {}

std::string CheckpointPolicy::dir() const {
  return (fs::path(options_.out_dir) / "checkpoints").string();
}

TrainingState CheckpointPolicy::start() {
  TrainingState state;
  if (options_.out_dir.empty()) return state;
  if (communicator_.is_main()) fs::create_directories(options_.out_dir);
  const auto existing = latest_checkpoint(dir());
  if (existing && !options_.resume)
    throw CheckpointError("'" + options_.out_dir + "' already holds a checkpoint (" + *existing +
                          "): pass --resume to continue it, or choose another --out");
  if (existing) {
    state = load_checkpoint(dir(), model_, optimizer_, device_);
    state.restore_rng();
    if (sharding_) sharding_->drop_foreign_state(optimizer_);
    log_line(options_.log, "resumed from " + *existing + " at step " + std::to_string(state.step));
  } else if (options_.resume) {
    log_line(options_.log, "no checkpoint in " + dir() + ": starting from step 0");
  }
  return state;
}

void CheckpointPolicy::after_step(int64_t step, int64_t data_position) {
  const bool due = step == num_steps_ ||
                   (options_.checkpoint_every > 0 && step % options_.checkpoint_every == 0);
  if (options_.out_dir.empty() || !due) return;
  if (sharding_) sharding_->gather_state_to_main(optimizer_);
  if (communicator_.is_main()) {
    TrainingState state;
    state.step = step;
    state.data_position = data_position;
    state.capture_rng(device_.is_cuda());
    log_line(options_.log, "checkpoint " + save_checkpoint(dir(), model_, optimizer_, state));
  }
  if (sharding_) sharding_->drop_foreign_state(optimizer_);
}

}  // namespace xlstm
