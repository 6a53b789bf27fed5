// The checks that every sLSTM recurrence (vanilla, cuda) makes of its inputs.
#pragma once

#include <torch/torch.h>

#include "xlstm/ops/slstm_recurrence.h"

namespace xlstm::ops::slstm {

/// The shape and device checks (`where` names the recurrence in the message): wx [S >= 1, B, 4H],
/// state0 [4, B, H], recurrent_kernel [num_heads, 4*DH, DH], bias of 4H elements, all on one
/// device.
void check_recurrence_inputs(const char* where, const torch::Tensor& wx,
                             const torch::Tensor& state0, const torch::Tensor& recurrent_kernel,
                             const torch::Tensor& bias, const RecurrenceOptions& options);

}  // namespace xlstm::ops::slstm
