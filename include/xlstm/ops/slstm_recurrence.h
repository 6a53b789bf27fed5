// The sLSTM recurrence over a sequence as functions of tensors (the counterpart of FlashRNN's
// `flashrnn` function): vanilla (LibTorch / C++ loops on any device) and cuda (our kernels in
// kernels/slstm). Both are differentiable with respect to every tensor argument. The cell
// (blocks/slstm) prepares the inputs in this layout and picks one through its config's `backend`.
#pragma once

#include <optional>
#include <tuple>

#include <torch/torch.h>

namespace xlstm::ops::slstm {

/// What a recurrence needs of sLSTMCellConfig besides the tensors.
struct RecurrenceOptions {
  int num_heads = 1;
  bool gradient_recurrent_cut = false;               // no gradient through the recurrent matmul
  std::optional<double> gradient_recurrent_clipval;  // clip the gradient flowing into R y_{t-1}
  std::optional<double> forward_clipval;             // clip the hidden state y_t (forward)
};

/// Tensors of one recurrence call, all on one device:
///   wx     [S, B, 4*H]  gate pre-activations from the input projections, gate-major per step
///                       ([4, NH, DH], Python "SBGNH"), slots in the order the cell receives them
///                       (slot 0 = i, 1 = f, 2 = z, 3 = o; see the README's note on the crossed
///                       names);
///   state0 [4, B, H]    initial (y, c, n, m);
///   recurrent_kernel [NH, 4*DH, DH]  vanilla layout: R[h, g*DH + out, in];
///   bias   [4*H]        vanilla layout, gate-major: b[g*H + h*DH + d].
/// Returns (y [S, B, H] after each step, final state [4, B, H]).
using RecurrenceResult = std::tuple<torch::Tensor, torch::Tensor>;

/// The LibTorch / C++ recurrence: works on any device and dtype.
RecurrenceResult recurrence_vanilla(const torch::Tensor& wx, const torch::Tensor& state0,
                                    const torch::Tensor& recurrent_kernel,
                                    const torch::Tensor& bias, const RecurrenceOptions& options);

/// Our CUDA kernels (only in builds with XLSTM_WITH_CUDA; CUDA tensors only).
RecurrenceResult recurrence_cuda(const torch::Tensor& wx, const torch::Tensor& state0,
                                 const torch::Tensor& recurrent_kernel, const torch::Tensor& bias,
                                 const RecurrenceOptions& options);

/// True when this build of the library contains recurrence_cuda.
bool cuda_recurrence_available();

}  // namespace xlstm::ops::slstm
