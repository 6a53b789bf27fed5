// The sLSTM cell (Python blocks/slstm/cell.py): the recurrent part of the sLSTM, with parameters in
// the vanilla layout and a choice of recurrence backend (backend.h).
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/blocks/slstm/backend.h"
#include "xlstm/config/slstm.h"
#include "xlstm/io/checkpoint_adapter.h"

namespace xlstm {

/// Parameters (vanilla layout whatever the backend; cuda-layout checkpoints are converted on load,
/// see checkpoint_layout.h):
///   `_recurrent_kernel_` [NH, 4*DH, DH]: R[h, g*DH + out, in], gates in the slots (i, f, z, o);
///   `_bias_` [4*H]: b[g*H + h*DH + d].
/// Created in float32 (in dtype_r / dtype_b when enable_automatic_mixed_precision is false).
class sLSTMCellImpl : public torch::nn::Module, public io::CheckpointAdapter {
 public:
  explicit sLSTMCellImpl(sLSTMCellConfig config);

  /// wx [B, S, 4H] (input_shape "BSGNH"; [S, B, 4H] for "SBGNH"): the gate pre-activations from the
  /// input projections, gate-major (slots i, f, z, o). state [4, B, H] = (y, c, n, m), undefined
  /// for the zero state. Returns (y in output_shape, [B, NH, S, DH] for "BNSH"; final state [4, B,
  /// H]), both in wx's dtype (in dtype_w under CUDA autocast with the cuda backend and
  /// enable_automatic_mixed_precision, as the official cuda cell).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& wx,
                                                  const torch::Tensor& state = {});
  /// One step: wx with S = 1. Returns the new state (the official cell's `step` returns the state
  /// it was given, a bug that its layer avoids by calling `forward`).
  std::pair<torch::Tensor, torch::Tensor> step(const torch::Tensor& wx,
                                               const torch::Tensor& state = {});

  /// As the official sLSTMCellBase.reset_parameters: per head and gate in the external layout.
  void reset_parameters();

  /// The options handed to the recurrence backend.
  ops::slstm::RecurrenceOptions recurrence_options() const;

  /// Converts this cell's parameters in a checkpoint saved by the other backend to the vanilla
  /// layout (match_slstm_cell_layout).
  void adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const override;

  /// The config as constructed; its names (backend, shapes, inits) are read once, at construction.
  sLSTMCellConfig config;
  torch::Tensor _recurrent_kernel_;
  torch::Tensor _bias_;

 private:
  enum class BiasInit { kPowerlawBlockdependent, kSmallInit, kStandard, kZeros };
  enum class OutputShape { kBNSH, kSBH, kBSH, kSBNH };

  torch::Tensor permute_output(const torch::Tensor& y) const;

  slstm::Backend backend_;
  bool batch_first_input_;  // input_shape "BSGNH" (else "SBGNH")
  OutputShape output_shape_;
  BiasInit bias_init_;
  bool standard_recurrent_init_;  // recurrent_weight_init "standard" (else "zeros")
};
TORCH_MODULE(sLSTMCell);

}  // namespace xlstm
