// Forward and backward passes of the sLSTM recurrence (internal to recurrence_vanilla). Shapes and
// layouts as in xlstm/ops/slstm_recurrence.h; float32 or float64, contiguous tensors on one device.
#pragma once

#include <torch/torch.h>

#include "xlstm/ops/slstm_recurrence.h"

namespace xlstm::ops::slstm::detail {

/// Gate slots of the recurrence, in the official order: i, f, z, o.
constexpr int64_t kGates = 4;

/// What the forward pass produces: the states after every step (each [S, B, H]) and, when asked
/// for, the gate pre-activations wx + R y_{t-1} + b of every step ([S, B, 4H], needed by backward).
struct ForwardResult {
  torch::Tensor y, c, n, m;
  torch::Tensor raw;
};

/// `first_step_quirk`: the normaliser of state0 is all zero (then m_0 = the input-gate
/// pre-activation, as the official vanilla code does).
/// The *_cpu passes are raw-pointer loops over CPU tensors; the *_aten passes run one step at a
/// time with ATen ops on any device (the slow but general fallback).
ForwardResult recurrence_forward_cpu(const torch::Tensor& wx, const torch::Tensor& state0,
                                     const torch::Tensor& recurrent_kernel,
                                     const torch::Tensor& bias, const RecurrenceOptions& options,
                                     bool first_step_quirk, bool keep_preactivations);
ForwardResult recurrence_forward_aten(const torch::Tensor& wx, const torch::Tensor& state0,
                                      const torch::Tensor& recurrent_kernel,
                                      const torch::Tensor& bias, const RecurrenceOptions& options,
                                      bool first_step_quirk, bool keep_preactivations);

/// Gradients of the pre-activations (= of wx, [S, B, 4H]) and of state0 ([4, B, H]).
struct BackwardResult {
  torch::Tensor d_wx, d_state0;
};

/// Reverse recurrence from the saved forward (with pre-activations). `grad_y` [S, B, H] and
/// `grad_final` [4, B, H] may be undefined (zero).
BackwardResult recurrence_backward_cpu(const ForwardResult& saved, const torch::Tensor& state0,
                                       const torch::Tensor& recurrent_kernel,
                                       const torch::Tensor& grad_y, const torch::Tensor& grad_final,
                                       const RecurrenceOptions& options, bool first_step_quirk);
BackwardResult recurrence_backward_aten(const ForwardResult& saved, const torch::Tensor& state0,
                                        const torch::Tensor& recurrent_kernel,
                                        const torch::Tensor& grad_y,
                                        const torch::Tensor& grad_final,
                                        const RecurrenceOptions& options, bool first_step_quirk);

}  // namespace xlstm::ops::slstm::detail
