#include "recurrence_checks.h"

namespace xlstm::ops::slstm {

bool cuda_recurrence_available() {
#ifdef XLSTM_WITH_CUDA
  return true;
#else
  return false;
#endif
}

void check_recurrence_inputs(const char* where, const torch::Tensor& wx,
                             const torch::Tensor& state0, const torch::Tensor& recurrent_kernel,
                             const torch::Tensor& bias, const RecurrenceOptions& options) {
  const torch::Tensor& R = recurrent_kernel;
  TORCH_CHECK(wx.dim() == 3 && R.dim() == 3 && state0.dim() == 3, where,
              ": expected wx [S, B, 4H], state0 [4, B, H], recurrent_kernel [NH, 4*DH, DH], bias "
              "[4H]; got wx ",
              wx.sizes(), ", state0 ", state0.sizes(), ", recurrent_kernel ", R.sizes(), ", bias ",
              bias.sizes());
  const int64_t NH = R.size(0), DH = R.size(2), H = NH * DH;
  TORCH_CHECK(NH == options.num_heads && R.size(1) == 4 * DH, where, ": recurrent_kernel ",
              R.sizes(), " is not [num_heads=", options.num_heads, ", 4*DH, DH]");
  TORCH_CHECK(wx.size(0) > 0, where, ": empty sequence, wx ", wx.sizes());
  TORCH_CHECK(wx.size(2) == 4 * H && bias.numel() == 4 * H, where, ": wx ", wx.sizes(),
              " and bias ", bias.sizes(), " must end in 4*H = ", 4 * H);
  TORCH_CHECK(state0.size(0) == 4 && state0.size(1) == wx.size(1) && state0.size(2) == H, where,
              ": state0 ", state0.sizes(), " is not [4, B=", wx.size(1), ", H=", H, "]");
  TORCH_CHECK(
      wx.device() == state0.device() && wx.device() == R.device() && wx.device() == bias.device(),
      where, ": all tensors must be on one device (wx on ", wx.device(), ", state0 on ",
      state0.device(), ", recurrent_kernel on ", R.device(), ", bias on ", bias.device(), ")");
}

}  // namespace xlstm::ops::slstm
