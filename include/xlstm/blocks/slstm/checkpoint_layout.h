// The two checkpoint layouts of the sLSTM cell parameters (official sLSTMCell_vanilla vs
// sLSTMCell_cuda, see _recurrent_kernel_ext2int and _bias_ext2int in xlstm/blocks/slstm/cell.py).
// With NH heads, head size DH, H = NH * DH and the 4 gates g in the order (i, f, z, o):
// clang-format off
//   vanilla: _recurrent_kernel_ [NH, 4*DH, DH], R[h, g*DH + out, in];  _bias_ [4*H] ordered (g, h, d)
//   cuda:    _recurrent_kernel_ [NH, DH, 4*DH], R[h, in, g*DH + out];  _bias_ [4*H] ordered (h, g, d)
// clang-format on
// The kernels' shapes always differ (4*DH != DH), the biases' never do: a cell's layout is read off
// its recurrent kernel, and its bias is taken to be in the same layout. sLSTMCellImpl implements
// io::CheckpointAdapter with match_slstm_cell_layout, so load_state_dict takes either layout.
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

#include "xlstm/io/safetensors.h"

namespace xlstm {

enum class SlstmLayout { vanilla, cuda };

torch::Tensor slstm_recurrent_kernel_cuda_to_vanilla(const torch::Tensor& kernel,
                                                     int64_t num_heads);
torch::Tensor slstm_recurrent_kernel_vanilla_to_cuda(const torch::Tensor& kernel,
                                                     int64_t num_heads);
torch::Tensor slstm_bias_cuda_to_vanilla(const torch::Tensor& bias, int64_t num_heads);
torch::Tensor slstm_bias_vanilla_to_cuda(const torch::Tensor& bias, int64_t num_heads);

/// The layout of a recurrent kernel from its shape, or nullopt when it is neither
/// [NH, 4*DH, DH] nor [NH, DH, 4*DH].
std::optional<SlstmLayout> slstm_layout_of(const torch::Tensor& recurrent_kernel);

/// A copy of `tensors` with every sLSTM cell in layout `to`. A cell is a key whose last component
/// is `_recurrent_kernel_` (layout read off its shape; an unrecognised shape throws) together with
/// the sibling key `<prefix>_bias_`, if present. A `_bias_` without a kernel is left unchanged
/// (its layout cannot be told). Other entries are passed through (sharing storage).
io::TensorMap convert_slstm_layout(const io::TensorMap& tensors, SlstmLayout to);

/// Converts the cell saved under `prefix` (`<prefix>_recurrent_kernel_`, `<prefix>_bias_`) in
/// `checkpoint` to the layout of `own_kernel`, in place, when it is stored in the other layout with
/// the transposed shape; anything else is left for load_state_dict's shape check. This is how an
/// sLSTM cell accepts checkpoints of either backend (sLSTMCellImpl::adapt_checkpoint).
void match_slstm_cell_layout(io::TensorMap& checkpoint, const std::string& prefix,
                             const torch::Tensor& own_kernel);

}  // namespace xlstm
