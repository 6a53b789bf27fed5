// Training checkpoints of xlstm-train: weights, optimizer state, step and RNG states, written so
// that a crash at any moment leaves the previous checkpoint usable.
//
// Layout under a checkpoint directory `dir` (xlstm-train uses OUT/checkpoints):
//   dir/step_00000100/model.safetensors   weights under the Python names (io::save_weights)
//   dir/step_00000100/optimizer.pt        the AdamW state (torch::serialize archive)
//   dir/step_00000100/state.safetensors   RNG states; step and data position in the metadata
//   dir/step_00000100/manifest.json       the size and FNV-1a hash of each file above
//   dir/latest.json                       the newest complete checkpoint's manifest (a copy)
// Every file is written under a temporary name and renamed; the step directory is assembled under a
// temporary name (step_00000100.tmp.PID) and renamed; latest.json is written last. Removing older
// checkpoints is the caller's choice (the trainer removes only its own: CheckpointPolicy). When
// latest.json is lost, each step directory's own manifest still proves it intact.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace xlstm {

/// A checkpoint that is missing, truncated, corrupt or does not fit the model; the message names
/// the file and the problem.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The training loop's position, stored beside the weights and the optimizer.
struct TrainingState {
  int64_t step = 0;              ///< optimizer steps done
  int64_t data_position = 0;     ///< first example of the next training batch
  torch::Tensor cpu_rng_state;   ///< torch's default CPU generator (uint8)
  torch::Tensor cuda_rng_state;  ///< the default CUDA generator of device 0; undefined without CUDA

  /// Fills the RNG states from torch's default generators (CUDA only when `with_cuda`).
  void capture_rng(bool with_cuda);
  /// Sets torch's default generators to the stored states.
  void restore_rng() const;
};

/// Writes a checkpoint of `state.step` under `dir` (created if needed) and returns its directory. A
/// failed write (a full disk) leaves no partial directory behind. Removes no other checkpoint; an
/// existing directory of the same step is set aside (step_...replaced-PID), or removed when it has
/// no manifest (an interrupted write of an older version).
std::string save_checkpoint(const std::string& dir, const torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, const TrainingState& state);

/// The step directory that dir/latest.json names, or nullopt when there is no latest.json.
std::optional<std::string> latest_checkpoint(const std::string& dir);

/// The step of a step directory's name ("step_00000100" -> 100); -1 for any other name (the
/// temporary step_00000100.tmp.PID among them).
int64_t checkpoint_step(const std::string& name);
/// The names of the step directories under `dir`, in step order (none when `dir` is missing).
std::vector<std::string> checkpoint_directories(const std::string& dir);
/// Removes what interrupted writes left under `dir`: temporary step directories and step
/// directories after `after_step` without a manifest.json. Only while no other process writes
/// there (the trainer holds the run directory's lock).
void remove_interrupted_writes(const std::string& dir, int64_t after_step);

/// A checkpoint a run can continue.
struct ResumePoint {
  std::string step_dir;  ///< dir/step_XXXXXXXX
  /// Empty when latest.json named it; otherwise why latest.json was not used and which newer
  /// step directories were not intact.
  std::string recovery_note;
};

/// The checkpoint a resume continues: the one latest.json names or, when latest.json is missing
/// or broken (not JSON, naming no directory that is there), the newest step directory whose own
/// manifest.json verifies. nullopt when `dir` holds neither latest.json nor a step directory.
/// Throws CheckpointError when latest.json names a checkpoint that is not intact, or when no step
/// directory is: the message lists what is there and what is wrong with each.
std::optional<ResumePoint> find_resume_point(const std::string& dir);

/// Loads the weights (strictly) and the optimizer state of `point` onto `device` and returns the
/// training state; `point` comes from find_resume_point, which has verified every file against its
/// manifest (size and hash). Throws CheckpointError.
TrainingState load_checkpoint(const ResumePoint& point, torch::nn::Module& model,
                              torch::optim::Optimizer& optimizer, const torch::Device& device);
/// load_checkpoint of find_resume_point(dir); no checkpoint there is a CheckpointError.
TrainingState load_checkpoint(const std::string& dir, torch::nn::Module& model,
                              torch::optim::Optimizer& optimizer, const torch::Device& device);

}  // namespace xlstm
