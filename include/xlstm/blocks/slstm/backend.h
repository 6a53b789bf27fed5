// The sLSTM cell's choice of recurrence (its config's `backend`): the tensor ops of
// xlstm/ops/slstm_recurrence.h behind one enum, with the cuda backend's fallback on other devices.
#pragma once

#include <string>

#include <torch/torch.h>

#include "xlstm/ops/slstm_recurrence.h"

namespace xlstm::slstm {

enum class Backend {
  kVanilla,  // ops::slstm::recurrence_vanilla: any device and dtype
  kCuda,     // ops::slstm::recurrence_cuda on CUDA tensors, vanilla (with a warning) elsewhere
};

/// "vanilla" | "cuda"; throws std::invalid_argument naming the unknown name.
Backend backend_from_name(const std::string& name);

/// True when this build of the library contains the CUDA backend.
bool cuda_backend_available();

/// The recurrence of `backend` on the tensors of ops::slstm::recurrence_vanilla. `backend` cuda on
/// a CUDA tensor in a build without it throws.
ops::slstm::RecurrenceResult run_recurrence(Backend backend, const torch::Tensor& wx,
                                            const torch::Tensor& state0,
                                            const torch::Tensor& recurrent_kernel,
                                            const torch::Tensor& bias,
                                            const ops::slstm::RecurrenceOptions& options);

}  // namespace xlstm::slstm
