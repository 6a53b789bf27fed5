// The key torch::optim keeps a parameter's state under: LibTorch 2.x the TensorImpl pointer, 1.13
// its printed address.
#pragma once

#include <torch/torch.h>

#include <string>

namespace xlstm {

#if TORCH_VERSION_MAJOR >= 2
inline void* optimizer_state_key(const torch::Tensor& p) {
  return p.unsafeGetTensorImpl();
}
#else
inline std::string optimizer_state_key(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}
#endif

}  // namespace xlstm
