#include "xlstm/blocks/slstm/backend.h"

#include "xlstm/components/choice.h"

namespace xlstm::slstm {

Backend backend_from_name(const std::string& name) {
  return choose<Backend>("backend", name,
                         {{"vanilla", Backend::kVanilla}, {"cuda", Backend::kCuda}});
}

bool cuda_backend_available() {
  return ops::slstm::cuda_recurrence_available();
}

ops::slstm::RecurrenceResult run_recurrence(Backend backend, const torch::Tensor& wx,
                                            const torch::Tensor& state0,
                                            const torch::Tensor& recurrent_kernel,
                                            const torch::Tensor& bias,
                                            const ops::slstm::RecurrenceOptions& options) {
  if (backend == Backend::kCuda) {
    if (wx.is_cuda()) {
      TORCH_CHECK(cuda_backend_available(),
                  "sLSTMCell: backend 'cuda' on a CUDA tensor, but this build of xlstm has no CUDA "
                  "backend (configure with XLSTM_CUDA=ON against a CUDA LibTorch, or set backend: "
                  "vanilla)");
#ifdef XLSTM_WITH_CUDA
      return ops::slstm::recurrence_cuda(wx, state0, recurrent_kernel, bias, options);
#endif
    }
    TORCH_WARN_ONCE("sLSTMCell: backend 'cuda' on a ", wx.device(),
                    " tensor falls back to the vanilla backend");
  }
  return ops::slstm::recurrence_vanilla(wx, state0, recurrent_kernel, bias, options);
}

}  // namespace xlstm::slstm
