#include "xlstm/ops/slstm_layer_step.h"

#include <algorithm>
#include <vector>

#include "../cpu_math.h"
#include "pointwise.h"
#include "recurrence_passes.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::slstm {
namespace {

using detail::kGates;  // cell slots i, f, z, o

/// Sizes of the step loop.
struct Dims {
  int64_t B, H, NH, DH, KS;
};

/// `w` and `state` contiguous; state tensors undefined when there is no state.
template <typename T>
void step_loop(const LayerStepWeights& w, const LayerStepState& state, const Dims& dims, const T* x,
               T* out, T* conv_out, T* y_out, T* c_out, T* n_out, T* m_out) {
  const int64_t B = dims.B, H = dims.H, NH = dims.NH, DH = dims.DH, KS = dims.KS;
  const T clip = static_cast<T>(w.forward_clipval.value_or(0.0));
  const T norm_eps = static_cast<T>(w.norm_eps);
  const T *R = w.recurrent_kernel.data_ptr<T>(), *bias = w.bias.data_ptr<T>();
  const T *y_in = data_or_null<T>(state.y), *c_in = data_or_null<T>(state.c),
          *n_in = data_or_null<T>(state.n), *m_in = data_or_null<T>(state.m);
  const T *norm_w = data_or_null<T>(w.norm_weight), *norm_b = data_or_null<T>(w.norm_bias);
  // The official quirk: a normaliser state that is all zero (no state too) starts with m = i~.
  const bool first_step = !n_in || std::all_of(n_in, n_in + B * H, [](T v) { return v == T(0); });

  std::vector<T> x_conv(H), wx(kGates * H), gates(kGates * DH);
  for (int64_t b = 0; b < B; ++b) {
    const T* x_b = x + b * H;
    if (KS > 0) {
      const T* conv_in = data_or_null<T>(state.conv);
      causal_conv_step_row(x_b, conv_in ? conv_in + b * KS * H : nullptr,
                           w.conv_weight.data_ptr<T>(), data_or_null<T>(w.conv_bias), H, KS,
                           conv_out + b * KS * H, x_conv.data());
      for (int64_t f = 0; f < H; ++f) x_conv[f] = silu(x_conv[f]);
    } else {
      std::copy(x_b, x_b + H, x_conv.begin());
    }
    // Slots i and f see the conv output, z and o the input (as the official layer feeds them).
    const T* gate_in[kGates] = {x_conv.data(), x_conv.data(), x_b, x_b};
    for (int64_t g = 0; g < kGates; ++g) {
      headwise_row(gate_in[g], w.gate_weights[g].data_ptr<T>(), static_cast<const T*>(nullptr), NH,
                   DH, DH, wx.data() + g * H);
    }
    for (int64_t h = 0; h < NH; ++h) {
      // Pre-activations wx + R y_{t-1} + b with R[h, g * DH + o, i] (block-diagonal per head).
      const int64_t offset = b * H + h * DH;
      for (int64_t g = 0; g < kGates; ++g) {
        for (int64_t o = 0; o < DH; ++o) {
          const T* R_row = R + (h * kGates * DH + g * DH + o) * DH;
          const T acc = y_in ? dot(R_row, y_in + offset, DH) : T(0);
          gates[g * DH + o] = wx[g * H + h * DH + o] + acc + bias[g * H + h * DH + o];
        }
      }
      T* y_h = y_out + offset;
      for (int64_t o = 0; o < DH; ++o) {
        const detail::PointwiseState<T> s = detail::pointwise_forward(
            gates[o], gates[DH + o], gates[2 * DH + o], gates[3 * DH + o],
            c_in ? c_in[offset + o] : T(0), n_in ? n_in[offset + o] : T(0),
            m_in ? m_in[offset + o] : T(0), first_step, clip);
        y_h[o] = s.y;
        c_out[offset + o] = s.c;
        n_out[offset + o] = s.n;
        m_out[offset + o] = s.m;
      }
      T* out_h = out + offset;
      std::copy(y_h, y_h + DH, out_h);
      head_norm(out_h, norm_w ? norm_w + h * DH : nullptr, norm_b ? norm_b + h * DH : nullptr, DH,
                norm_eps);
    }
  }
}

}  // namespace

LayerStepResult layer_step_cpu(const LayerStepWeights& weights, const torch::Tensor& x,
                               const LayerStepState& state, const LayerStepState* out) {
  const auto c = contiguous_if_defined;
  LayerStepWeights w = weights;
  for (torch::Tensor* t :
       {&w.conv_weight, &w.conv_bias, &w.gate_weights[0], &w.gate_weights[1], &w.gate_weights[2],
        &w.gate_weights[3], &w.recurrent_kernel, &w.bias, &w.norm_weight, &w.norm_bias})
    *t = c(*t);
  const LayerStepState in{c(state.y), c(state.c), c(state.n), c(state.m), c(state.conv)};
  const int64_t B = x.size(0), H = x.size(2);
  const int64_t NH = w.recurrent_kernel.size(0),
                KS = w.conv_weight.defined() ? w.conv_weight.size(2) : 0;
  const Dims dims{B, H, NH, H / NH, KS};

  const auto options = x.options();
  LayerStepResult r;
  r.out = torch::empty({B, 1, H}, options);
  if (out) {
    std::vector<torch::Tensor> tensors = {out->y, out->c, out->n, out->m};
    std::vector<std::vector<int64_t>> shapes(4, {B, H});
    if (KS > 0) {
      tensors.push_back(out->conv);
      shapes.push_back({B, KS, H});
    }
    check_step_out("slstm::layer_step_cpu", tensors, shapes, x.scalar_type());
    r.state = *out;
  } else {
    r.state = {torch::empty({B, H}, options), torch::empty({B, H}, options),
               torch::empty({B, H}, options), torch::empty({B, H}, options),
               KS > 0 ? torch::empty({B, KS, H}, options) : torch::Tensor()};
  }
  const torch::Tensor x_c = x.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "slstm_layer_step_cpu", [&] {
    step_loop<scalar_t>(w, in, dims, x_c.data_ptr<scalar_t>(), r.out.data_ptr<scalar_t>(),
                        r.state.conv.defined() ? r.state.conv.data_ptr<scalar_t>() : nullptr,
                        r.state.y.data_ptr<scalar_t>(), r.state.c.data_ptr<scalar_t>(),
                        r.state.n.data_ptr<scalar_t>(), r.state.m.data_ptr<scalar_t>());
  });
  return r;
}

}  // namespace xlstm::ops::slstm
