// The two checkpoint layouts of the sLSTM cell parameters (official sLSTMCell_vanilla vs
// sLSTMCell_cuda, see _recurrent_kernel_ext2int and _bias_ext2int in xlstm/blocks/slstm/cell.py).
// With NH heads, head size DH, H = NH * DH and the 4 gates g in the order (i, f, z, o):
//   vanilla: _recurrent_kernel_ [NH, 4*DH, DH], R[h, g*DH + out, in];  _bias_ [4*H] ordered (g, h,
//   d) cuda:    _recurrent_kernel_ [NH, DH, 4*DH], R[h, in, g*DH + out];  _bias_ [4*H] ordered (h,
//   g, d)
// The kernels' shapes always differ (4*DH != DH), the biases' never do: a cell's layout is read off
// its recurrent kernel, and its bias is taken to be in the same layout.
#pragma once

#include <optional>

#include <torch/torch.h>

#include "xlstm/io/safetensors.h"

namespace xlstm::io {

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
TensorMap convert_slstm_layout(const TensorMap& tensors, SlstmLayout to);

/// A copy of `checkpoint` where each sLSTM cell whose recurrent kernel is also in `reference`
/// (e.g. a module's state_dict) in the other layout, with the transposed shape of the reference
/// kernel, is converted to the reference kernel's layout (with its bias). This is how
/// load_state_dict accepts checkpoints of either backend.
TensorMap match_slstm_layout(const TensorMap& checkpoint, const TensorMap& reference);

}  // namespace xlstm::io
