// recurrence_vanilla: shape checks, dtype handling and the custom autograd function around the
// forward / backward passes of recurrence_passes.h.
#include <torch/torch.h>

#include "recurrence_checks.h"
#include "recurrence_passes.h"
#include "xlstm/ops/slstm_recurrence.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::slstm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using detail::kGates;

detail::ForwardResult run_forward(const torch::Tensor& wx, const torch::Tensor& state0,
                                  const torch::Tensor& R, const torch::Tensor& bias,
                                  const RecurrenceOptions& options, bool first_step_quirk,
                                  bool keep_preactivations) {
  return wx.device().is_cpu()
             ? detail::recurrence_forward_cpu(wx, state0, R, bias, options, first_step_quirk,
                                              keep_preactivations)
             : detail::recurrence_forward_aten(wx, state0, R, bias, options, first_step_quirk,
                                               keep_preactivations);
}

torch::Tensor final_state(const detail::ForwardResult& r) {
  return torch::stack({r.y[-1], r.c[-1], r.n[-1], r.m[-1]});
}

/// The recurrence as one autograd node whose backward runs the reverse recurrence.
struct RecurrenceFunction : torch::autograd::Function<RecurrenceFunction> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& wx,
                               const torch::Tensor& state0, const torch::Tensor& R,
                               const torch::Tensor& bias, const RecurrenceOptions& options,
                               bool first_step_quirk) {
    const detail::ForwardResult r =
        run_forward(wx, state0, R, bias, options, first_step_quirk, /*keep_preactivations=*/true);
    ctx->save_for_backward({r.raw, state0, R, r.y, r.c, r.n, r.m});
    ctx->saved_data["num_heads"] = static_cast<int64_t>(options.num_heads);
    ctx->saved_data["cut"] = options.gradient_recurrent_cut;
    ctx->saved_data["grad_clip"] = options.gradient_recurrent_clipval.value_or(-1.0);
    ctx->saved_data["forward_clip"] = options.forward_clipval.value_or(-1.0);
    ctx->saved_data["quirk"] = first_step_quirk;
    return {r.y, final_state(r)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    detail::ForwardResult r;
    r.raw = saved[0];
    const torch::Tensor& state0 = saved[1];
    const torch::Tensor& R = saved[2];
    r.y = saved[3];
    r.c = saved[4];
    r.n = saved[5];
    r.m = saved[6];
    RecurrenceOptions options;
    options.num_heads = static_cast<int>(ctx->saved_data["num_heads"].toInt());
    options.gradient_recurrent_cut = ctx->saved_data["cut"].toBool();
    const double grad_clip = ctx->saved_data["grad_clip"].toDouble();
    const double forward_clip = ctx->saved_data["forward_clip"].toDouble();
    if (grad_clip > 0) options.gradient_recurrent_clipval = grad_clip;
    if (forward_clip > 0) options.forward_clipval = forward_clip;
    const bool quirk = ctx->saved_data["quirk"].toBool();

    const torch::Tensor grad_y = grads[0].defined() ? grads[0].contiguous() : grads[0];
    const torch::Tensor grad_final = grads[1].defined() ? grads[1].contiguous() : grads[1];
    const detail::BackwardResult g =
        r.raw.device().is_cpu()
            ? detail::recurrence_backward_cpu(r, state0, R, grad_y, grad_final, options, quirk)
            : detail::recurrence_backward_aten(r, state0, R, grad_y, grad_final, options, quirk);

    // dR[h, g*DH + o, i] = sum over (t, b) of d_raw[t, b, g, h, o] y_{t-1}[b, h, i]; db likewise.
    const int64_t S = r.raw.size(0), B = r.raw.size(1), NH = R.size(0), DH = R.size(2);
    const torch::Tensor y_prev = torch::cat({state0[0].unsqueeze(0), r.y.slice(0, 0, S - 1)});
    const torch::Tensor d_raw = g.d_wx.view({S * B, kGates, NH, DH}).permute({2, 1, 3, 0});
    const torch::Tensor d_R = torch::bmm(d_raw.reshape({NH, kGates * DH, S * B}),
                                         y_prev.view({S * B, NH, DH}).permute({1, 0, 2}));
    const torch::Tensor d_bias = g.d_wx.sum(0).sum(0);
    return {g.d_wx, g.d_state0, d_R, d_bias, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

RecurrenceResult recurrence_vanilla(const torch::Tensor& wx, const torch::Tensor& state0,
                                    const torch::Tensor& recurrent_kernel,
                                    const torch::Tensor& bias, const RecurrenceOptions& options) {
  check_recurrence_inputs("sLSTM recurrence", wx, state0, recurrent_kernel, bias, options);
  TORCH_CHECK(bias.dim() == 1, "sLSTM recurrence: bias must be [4H], got ", bias.sizes());
  // One compute dtype for all: the promoted one, float32 for the half types.
  auto dtype =
      at::promote_types(at::promote_types(wx.scalar_type(), state0.scalar_type()),
                        at::promote_types(recurrent_kernel.scalar_type(), bias.scalar_type()));
  TORCH_CHECK(at::isFloatingType(dtype), "sLSTM recurrence: floating tensors expected, got ",
              dtype);
  if (dtype != torch::kFloat64) dtype = torch::kFloat32;
  const auto prepare = [dtype](const torch::Tensor& t) { return t.to(dtype).contiguous(); };
  const torch::Tensor wx_c = prepare(wx), state0_c = prepare(state0);
  const torch::Tensor R_c = prepare(recurrent_kernel), bias_c = prepare(bias);

  // The official code checks "n == 0" over the whole tensor before each step; once any unit has
  // n > 0 it stays > 0 (n_t >= min(n_{t-1}, 1) as one of the two clamped gates is exactly 1), and
  // after a first step from n == 0 every n is 1. So the check can only hold at t = 0.
  const bool first_step_quirk = (state0_c[2] == 0).all().item<bool>();

  torch::Tensor y, final;
  if (needs_grad({wx, state0, recurrent_kernel, bias})) {
    const variable_list out =
        RecurrenceFunction::apply(wx_c, state0_c, R_c, bias_c, options, first_step_quirk);
    y = out[0];
    final = out[1];
  } else {
    const detail::ForwardResult r = run_forward(wx_c, state0_c, R_c, bias_c, options,
                                                first_step_quirk, /*keep_preactivations=*/false);
    y = r.y;
    final = final_state(r);
  }
  return {y.to(wx.scalar_type()), final.to(wx.scalar_type())};
}

}  // namespace xlstm::ops::slstm
