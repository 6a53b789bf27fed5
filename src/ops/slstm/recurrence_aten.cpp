// The sLSTM recurrence one step at a time with ATen ops over [B, H]: runs on any device (the
// vanilla fallback for CUDA tensors). Same math as pointwise.h, written with masks.
#include "recurrence_passes.h"

namespace xlstm::ops::slstm::detail {
namespace {

/// R y_{t-1} per head: y [B, H] -> [B, 4H] gate-major.
torch::Tensor recurrent_matmul(const torch::Tensor& y, const torch::Tensor& R) {
  const int64_t B = y.size(0), NH = R.size(0), DH = R.size(2);
  return y.view({B, NH, 1, DH})
      .matmul(R.transpose(1, 2))
      .view({B, NH, kGates, DH})
      .transpose(1, 2)
      .reshape({B, kGates * NH * DH});
}

/// R^T d_gates per head: d_gates [B, 4H] gate-major -> [B, H].
torch::Tensor recurrent_matmul_transposed(const torch::Tensor& d_gates, const torch::Tensor& R) {
  const int64_t B = d_gates.size(0), NH = R.size(0), DH = R.size(2);
  return d_gates.view({B, kGates, NH, DH})
      .transpose(1, 2)
      .reshape({B, NH, 1, kGates * DH})
      .matmul(R)
      .reshape({B, NH * DH});
}

/// The step's gates and states recomputed from its pre-activations.
struct Step {
  torch::Tensor raw_i, raw_f, log_f_plus_m, m, f_exp, igate, fgate, zval, ogate, c, n, y_raw, y;
};

Step pointwise(const torch::Tensor& raw, const torch::Tensor& c_prev, const torch::Tensor& n_prev,
               const torch::Tensor& m_prev, bool first_step, const RecurrenceOptions& options) {
  Step s;
  const auto gates = raw.chunk(kGates, 1);
  s.raw_i = gates[0];
  s.raw_f = gates[1];
  s.log_f_plus_m = torch::log_sigmoid(s.raw_f) + m_prev;
  s.m = first_step ? s.raw_i : torch::maximum(s.raw_i, s.log_f_plus_m);
  s.igate = torch::exp(s.raw_i - s.m).clamp_max(1.0);
  s.f_exp = torch::exp(s.log_f_plus_m - s.m);
  s.fgate = s.f_exp.clamp_max(1.0);
  s.zval = torch::tanh(gates[2]);
  s.ogate = torch::sigmoid(gates[3]);
  s.c = s.fgate * c_prev + s.igate * s.zval;
  s.n = s.fgate * n_prev + s.igate;
  s.y_raw = s.ogate * s.c / s.n;
  s.y = options.forward_clipval ? s.y_raw.clamp(-*options.forward_clipval, *options.forward_clipval)
                                : s.y_raw;
  return s;
}

}  // namespace

ForwardResult recurrence_forward_aten(const torch::Tensor& wx, const torch::Tensor& state0,
                                      const torch::Tensor& recurrent_kernel,
                                      const torch::Tensor& bias, const RecurrenceOptions& options,
                                      bool first_step_quirk, bool keep_preactivations) {
  const int64_t S = wx.size(0);
  ForwardResult r;
  r.y = torch::empty({S, wx.size(1), state0.size(2)}, wx.options());
  r.c = torch::empty_like(r.y);
  r.n = torch::empty_like(r.y);
  r.m = torch::empty_like(r.y);
  if (keep_preactivations) r.raw = torch::empty_like(wx);
  torch::Tensor y = state0[0], c = state0[1], n = state0[2], m = state0[3];
  for (int64_t t = 0; t < S; ++t) {
    const torch::Tensor raw = wx[t] + recurrent_matmul(y, recurrent_kernel) + bias;
    if (keep_preactivations) r.raw[t].copy_(raw);
    const Step s = pointwise(raw, c, n, m, first_step_quirk && t == 0, options);
    y = s.y;
    c = s.c;
    n = s.n;
    m = s.m;
    r.y[t].copy_(y);
    r.c[t].copy_(c);
    r.n[t].copy_(n);
    r.m[t].copy_(m);
  }
  return r;
}

BackwardResult recurrence_backward_aten(const ForwardResult& saved, const torch::Tensor& state0,
                                        const torch::Tensor& recurrent_kernel,
                                        const torch::Tensor& grad_y,
                                        const torch::Tensor& grad_final,
                                        const RecurrenceOptions& options, bool first_step_quirk) {
  const int64_t S = saved.raw.size(0);
  BackwardResult r;
  r.d_wx = torch::empty_like(saved.raw);
  const torch::Tensor zeros = torch::zeros_like(state0[0]);
  torch::Tensor dy_rec = zeros;
  torch::Tensor dc = grad_final.defined() ? grad_final[1] : zeros;
  torch::Tensor dn = grad_final.defined() ? grad_final[2] : zeros;
  torch::Tensor dm = grad_final.defined() ? grad_final[3] : zeros;
  for (int64_t t = S - 1; t >= 0; --t) {
    const bool first = t == 0;
    const torch::Tensor c_prev = first ? state0[1] : saved.c[t - 1];
    const torch::Tensor n_prev = first ? state0[2] : saved.n[t - 1];
    const torch::Tensor m_prev = first ? state0[3] : saved.m[t - 1];
    const Step s =
        pointwise(saved.raw[t], c_prev, n_prev, m_prev, first_step_quirk && first, options);
    torch::Tensor dy = options.gradient_recurrent_clipval
                           ? dy_rec.clamp(-*options.gradient_recurrent_clipval,
                                          *options.gradient_recurrent_clipval)
                           : dy_rec;
    if (grad_y.defined()) dy = dy + grad_y[t];
    if (t == S - 1 && grad_final.defined()) dy = dy + grad_final[0];
    if (options.forward_clipval) dy = dy.masked_fill(s.y_raw.abs() > *options.forward_clipval, 0.0);
    const torch::Tensor d_raw_o = dy * s.c / s.n * s.ogate * (1 - s.ogate);
    dc = dc + dy * s.ogate / s.n;
    dn = dn - dy * s.y_raw / s.n;
    const torch::Tensor d_raw_z = dc * s.igate * (1 - s.zval * s.zval);
    const torch::Tensor d_log_i = (dc * s.zval + dn) * s.igate;
    const torch::Tensor d_log_f =
        ((dc * c_prev + dn * n_prev) * s.fgate).masked_fill(s.f_exp > 1, 0.0);
    const torch::Tensor dm_new = dm - d_log_i - d_log_f;
    // Share of dm_new that goes to i~ (torch.maximum splits ties in halves).
    const torch::Tensor to_input = first_step_quirk && first
                                       ? torch::ones_like(dm_new)
                                       : (s.raw_i > s.log_f_plus_m).to(dm_new.dtype()) +
                                             0.5 * (s.raw_i == s.log_f_plus_m).to(dm_new.dtype());
    const torch::Tensor d_log_f_plus_m = d_log_f + dm_new * (1 - to_input);
    const torch::Tensor d_raw_i = d_log_i + dm_new * to_input;
    const torch::Tensor d_raw_f = d_log_f_plus_m * torch::sigmoid(-s.raw_f);
    const torch::Tensor d_raw = torch::cat({d_raw_i, d_raw_f, d_raw_z, d_raw_o}, 1);
    r.d_wx[t].copy_(d_raw);
    dc = dc * s.fgate;
    dn = dn * s.fgate;
    dm = d_log_f_plus_m;
    dy_rec = options.gradient_recurrent_cut ? zeros
                                            : recurrent_matmul_transposed(d_raw, recurrent_kernel);
  }
  r.d_state0 = torch::stack({dy_rec, dc, dn, dm});
  return r;
}

}  // namespace xlstm::ops::slstm::detail
