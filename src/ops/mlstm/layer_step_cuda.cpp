#include "xlstm/ops/mlstm_layer_step.h"

#include "../cuda_bridge.h"
#include "../kernel_switch.h"
#include "mlstm/layer_step_kernels.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::mlstm {
namespace {

namespace kern = xlstm::kernels::mlstm;
constexpr const char* kWhere = "mLSTM layer step kernels";
constexpr double kCellEps = 1e-6;  // recurrent_step_stabilized's default, as layer_step_cpu

bool on(const torch::Tensor& t, const torch::Device& device, torch::ScalarType dtype,
        c10::IntArrayRef sizes) {
  return t.defined() && t.device() == device && t.scalar_type() == dtype && t.sizes() == sizes;
}

/// Undefined, or a [size] tensor on `device` of `dtype`.
bool optional_on(const torch::Tensor& t, const torch::Device& device, torch::ScalarType dtype,
                 int64_t size) {
  return !t.defined() || on(t, device, dtype, {size});
}

bool state_on(const LayerStepState& s, const torch::Device& device, torch::ScalarType dtype,
              int64_t B, int64_t NH, int64_t DH, int64_t KS, int64_t F) {
  return on(s.cell.C, device, torch::kFloat32, {B, NH, DH, DH}) &&
         on(s.cell.n, device, torch::kFloat32, {B, NH, DH, 1}) &&
         on(s.cell.m, device, torch::kFloat32, {B, NH, 1, 1}) &&
         on(s.conv, device, dtype, {B, KS, F});
}

bool contiguous(const LayerStepState& s) {
  return s.cell.C.is_contiguous() && s.cell.n.is_contiguous() && s.cell.m.is_contiguous() &&
         s.conv.is_contiguous();
}

const void* data_or_null(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr() : nullptr;
}

}  // namespace

bool layer_step_cuda_applies(const LayerStepWeights& w, const torch::Tensor& x_inner,
                             const LayerStepState& state, const LayerStepState* out) {
  if (!x_inner.is_cuda() || !kernel_dtype(x_inner.scalar_type()) || x_inner.dim() != 3 ||
      x_inner.size(1) != 1 || x_inner.size(2) % 2 != 0 ||
      !kernels_switched_on("XLSTM_MLSTM_STEP_KERNEL"))
    return false;
  const auto device = x_inner.device();
  const auto dtype = x_inner.scalar_type();
  const int64_t B = x_inner.size(0), F = x_inner.size(2) / 2, NH = w.num_heads;
  if (!w.conv_weight.defined() || w.conv_weight.dim() != 3 || !w.q_weight.defined() ||
      w.q_weight.dim() != 3 || NH <= 0 || F % NH != 0)
    return false;
  const int64_t KS = w.conv_weight.size(2), QH = w.q_weight.size(0), P = w.q_weight.size(1);
  if (!kern::layer_step_supported(static_cast<int>(F), static_cast<int>(NH), static_cast<int>(QH),
                                  static_cast<int>(KS)) ||
      QH * P != F)
    return false;
  const bool weights_fit =
      on(w.conv_weight, device, dtype, {F, 1, KS}) && on(w.q_weight, device, dtype, {QH, P, P}) &&
      on(w.k_weight, device, dtype, {QH, P, P}) && on(w.v_weight, device, dtype, {QH, P, P}) &&
      on(w.igate_weight, device, dtype, {NH, 3 * F}) &&
      on(w.fgate_weight, device, dtype, {NH, 3 * F}) && on(w.learnable_skip, device, dtype, {F}) &&
      optional_on(w.conv_bias, device, dtype, F) && optional_on(w.q_bias, device, dtype, F) &&
      optional_on(w.k_bias, device, dtype, F) && optional_on(w.v_bias, device, dtype, F) &&
      optional_on(w.igate_bias, device, dtype, NH) &&
      optional_on(w.fgate_bias, device, dtype, NH) &&
      optional_on(w.norm_weight, device, dtype, F) && optional_on(w.norm_bias, device, dtype, F);
  if (!weights_fit || !state_on(state, device, dtype, B, NH, F / NH, KS, F)) return false;
  if (out && !(state_on(*out, device, dtype, B, NH, F / NH, KS, F) && contiguous(*out)))
    return false;
  return !needs_grad({x_inner,          w.conv_weight,  w.conv_bias,  w.q_weight,    w.q_bias,
                      w.k_weight,       w.k_bias,       w.v_weight,   w.v_bias,      w.igate_weight,
                      w.igate_bias,     w.fgate_weight, w.fgate_bias, w.norm_weight, w.norm_bias,
                      w.learnable_skip, state.cell.C,   state.cell.n, state.cell.m,  state.conv});
}

LayerStepResult layer_step_cuda(const LayerStepWeights& w, const torch::Tensor& x_inner,
                                const LayerStepState& state, const LayerStepState* out) {
  TORCH_CHECK(layer_step_cuda_applies(w, x_inner, state, out), kWhere,
              ": these tensors are not ones the kernels take (layer_step_cuda_applies)");
  const c10::cuda::CUDAGuard guard(x_inner.device());
  const int64_t B = x_inner.size(0), F = x_inner.size(2) / 2;
  const auto c = contiguous_if_defined;
  const torch::Tensor x = x_inner.contiguous();
  const LayerStepState in{{c(state.cell.C), c(state.cell.n), c(state.cell.m)}, c(state.conv)};
  LayerStepResult r;
  r.h = torch::empty({B, 1, F}, x.options());
  r.state = out ? *out
                : LayerStepState{{torch::empty_like(in.cell.C), torch::empty_like(in.cell.n),
                                  torch::empty_like(in.cell.m)},
                                 torch::empty_like(in.conv)};
  // Weights as the kernels read them: contiguous (the conv's [F, 1, KS] as [F, KS]).
  const torch::Tensor conv_weight = w.conv_weight.contiguous(), q_weight = w.q_weight.contiguous(),
                      k_weight = w.k_weight.contiguous(), v_weight = w.v_weight.contiguous(),
                      igate_weight = w.igate_weight.contiguous(),
                      fgate_weight = w.fgate_weight.contiguous(),
                      skip = w.learnable_skip.contiguous();
  const torch::Tensor conv_bias = c(w.conv_bias), q_bias = c(w.q_bias), k_bias = c(w.k_bias),
                      v_bias = c(w.v_bias), igate_bias = c(w.igate_bias),
                      fgate_bias = c(w.fgate_bias), norm_weight = c(w.norm_weight),
                      norm_bias = c(w.norm_bias);
  kern::LayerStepArgs a;
  a.batch = static_cast<int>(B);
  a.features = static_cast<int>(F);
  a.heads = static_cast<int>(w.num_heads);
  a.qkv_blocks = static_cast<int>(q_weight.size(0));
  a.conv_taps = static_cast<int>(conv_weight.size(2));
  a.element_type = element_type(kWhere, x.scalar_type());
  a.x_inner = x.data_ptr();
  a.conv_weight = conv_weight.data_ptr();
  a.conv_bias = data_or_null(conv_bias);
  a.q_weight = q_weight.data_ptr();
  a.q_bias = data_or_null(q_bias);
  a.k_weight = k_weight.data_ptr();
  a.k_bias = data_or_null(k_bias);
  a.v_weight = v_weight.data_ptr();
  a.v_bias = data_or_null(v_bias);
  a.igate_weight = igate_weight.data_ptr();
  a.igate_bias = data_or_null(igate_bias);
  a.fgate_weight = fgate_weight.data_ptr();
  a.fgate_bias = data_or_null(fgate_bias);
  a.norm_weight = data_or_null(norm_weight);
  a.norm_bias = data_or_null(norm_bias);
  a.learnable_skip = skip.data_ptr();
  a.norm_eps = static_cast<float>(w.norm_eps);
  a.cell_eps = static_cast<float>(kCellEps);
  a.conv_in = in.conv.data_ptr();
  a.conv_out = r.state.conv.data_ptr();
  a.C_in = in.cell.C.data_ptr<float>();
  a.n_in = in.cell.n.data_ptr<float>();
  a.m_in = in.cell.m.data_ptr<float>();
  a.C_out = r.state.cell.C.data_ptr<float>();
  a.n_out = r.state.cell.n.data_ptr<float>();
  a.m_out = r.state.cell.m.data_ptr<float>();
  a.h = r.h.data_ptr();
  const torch::Tensor scratch = workspace(kern::layer_step_workspace_bytes(a), x);
  a.workspace = scratch.data_ptr();
  check_launch(kWhere, kern::layer_step(a, at::cuda::getCurrentCUDAStream()));
  return r;
}

}  // namespace xlstm::ops::mlstm
