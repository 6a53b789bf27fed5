#include "checkpoint_policy.h"

#include <filesystem>

#include "../io/file_tree.h"
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
  if (communicator_.is_main()) {
    fs::create_directories(options_.out_dir);
    lock_.emplace(options_.out_dir);
  }
  const std::string existing = existing_checkpoints(dir());
  if (!options_.resume && !existing.empty())
    throw CheckpointError("'" + options_.out_dir + "' already holds checkpoints (" + existing +
                          "): use --resume to continue them, or another --out");
  const auto point = options_.resume ? find_resume_point(dir()) : std::nullopt;
  if (point) {
    if (!point->recovery_note.empty()) log_line(options_.log, "note: " + point->recovery_note);
    state = load_checkpoint(*point, model_, optimizer_, device_);
    state.restore_rng();
    if (sharding_) sharding_->drop_foreign_state(optimizer_);
    start_step_ = state.step;
    resumed_from_ = point->step_dir;
    nothing_to_do_ = state.step >= num_steps_;
    log_line(options_.log,
             "resumed from " + point->step_dir + " at step " + std::to_string(state.step));
  } else if (options_.resume) {
    log_line(options_.log, "no checkpoint in " + dir() + ": starting from step 0");
  }
  if (communicator_.is_main() && !nothing_to_do_) {
    check_writable_directory(options_.out_dir);
    check_writable_directory(dir());
  }
  return state;
}

void CheckpointPolicy::after_step(int64_t step, int64_t data_position, bool now) {
  const bool due = now || step == num_steps_ ||
                   (options_.checkpoint_every > 0 && step % options_.checkpoint_every == 0);
  if (options_.out_dir.empty() || !due) return;
  if (sharding_) sharding_->gather_state_to_main(optimizer_);
  if (communicator_.is_main()) {
    TrainingState state;
    state.step = step;
    state.data_position = data_position;
    state.capture_rng(device_.is_cuda());
    last_written_ = save_checkpoint(dir(), model_, optimizer_, state);
    log_line(options_.log, "checkpoint " + last_written_);
    remove_superseded();
  }
  if (sharding_) sharding_->drop_foreign_state(optimizer_);
}

void CheckpointPolicy::remove_superseded() {
  for (const auto& old : written_) io::remove_tree(old);
  written_ = {last_written_};
  if (!resumed_from_.empty() && resumed_from_ != last_written_) io::remove_tree(resumed_from_);
  resumed_from_.clear();
  remove_interrupted_writes(dir(), start_step_);
}

}  // namespace xlstm
