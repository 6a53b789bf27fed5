// Training checkpoints of xlstm-train: weights, optimizer state, step and RNG states, written so
// that a crash at any moment leaves the previous checkpoint usable.
//
// Layout under a checkpoint directory `dir` (xlstm-train uses OUT/checkpoints):
//   dir/step_00000100/model.safetensors   weights under the Python names (io::save_weights)
//   dir/step_00000100/optimizer.pt        the AdamW state (torch::serialize archive)
//   dir/step_00000100/state.safetensors   RNG states; step and data position in the metadata
//   dir/latest.json                       manifest: the newest complete checkpoint and the size
//                                         and FNV-1a hash of each of its files
// Every file is written under a temporary name and renamed; the step directory is assembled under a
// temporary name and renamed; latest.json is written last, then older step directories are removed.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

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

/// Writes a checkpoint of `state.step` under `dir` (created if needed) and returns its directory.
std::string save_checkpoint(const std::string& dir, const torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, const TrainingState& state);

/// The step directory that dir/latest.json names, or nullopt when there is no latest.json.
std::optional<std::string> latest_checkpoint(const std::string& dir);

/// Checks the newest checkpoint under `dir` against its manifest (every file present with the
/// recorded size and hash), then loads the weights (strictly) and the optimizer state onto
/// `device` and returns the training state. Throws CheckpointError.
TrainingState load_checkpoint(const std::string& dir, torch::nn::Module& model,
                              torch::optim::Optimizer& optimizer, const torch::Device& device);

}  // namespace xlstm
