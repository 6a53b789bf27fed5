#include "layer_step_cpu.h"

#include <algorithm>
#include <vector>

#include "../../components/step_kernels.h"
#include "pointwise.h"

namespace xlstm::slstm {
namespace {

constexpr int64_t kGates = 4;  // cell slots i, f, z, o

template <typename T>
const T* ptr_or_null(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

torch::Tensor contiguous_or_undefined(const torch::Tensor& t) {
  return t.defined() ? t.contiguous() : t;
}

/// Inputs of the loop, contiguous; state tensors undefined when there is no state.
struct Tensors {
  torch::Tensor x, conv_w, conv_b, gate_w[kGates], R, bias, norm_w, norm_b;
  torch::Tensor conv_in, y_in, c_in, n_in, m_in;
};

template <typename T>
void step_loop(const sLSTMLayerImpl& layer, const Tensors& in, T* out, T* conv_out, T* y_out,
               T* c_out, T* n_out, T* m_out, int64_t B) {
  const int64_t H = layer.config.embedding_dim, NH = layer.config.num_heads, DH = H / NH;
  const int64_t KS = layer.conv1d ? layer.config.conv1d_kernel_size : 0;
  const T clip = static_cast<T>(layer.config.forward_clipval.value_or(0.0));
  const T norm_eps = static_cast<T>(layer.group_norm->eps);
  const T *x = in.x.data_ptr<T>(), *R = in.R.data_ptr<T>(), *bias = in.bias.data_ptr<T>();
  const T *y_in = ptr_or_null<T>(in.y_in), *c_in = ptr_or_null<T>(in.c_in),
          *n_in = ptr_or_null<T>(in.n_in), *m_in = ptr_or_null<T>(in.m_in);
  const T *norm_w = ptr_or_null<T>(in.norm_w), *norm_b = ptr_or_null<T>(in.norm_b);
  // The official quirk: a normaliser state that is all zero (no state too) starts with m = i~.
  const bool first_step = !n_in || std::all_of(n_in, n_in + B * H, [](T v) { return v == T(0); });

  std::vector<T> x_conv(H), wx(kGates * H), gates(kGates * DH);
  for (int64_t b = 0; b < B; ++b) {
    const T* x_b = x + b * H;
    if (KS > 0) {
      causal_conv_step_row(x_b,
                           in.conv_in.defined() ? in.conv_in.data_ptr<T>() + b * KS * H : nullptr,
                           in.conv_w.data_ptr<T>(), ptr_or_null<T>(in.conv_b), H, KS,
                           conv_out + b * KS * H, x_conv.data());
      for (int64_t f = 0; f < H; ++f) x_conv[f] = silu(x_conv[f]);
    } else {
      std::copy(x_b, x_b + H, x_conv.begin());
    }
    // The official layer feeds (fgate, igate, zgate, ogate) into the cell's slots (i, f, z, o).
    const T* gate_in[kGates] = {x_conv.data(), x_conv.data(), x_b, x_b};
    for (int64_t g = 0; g < kGates; ++g) {
      headwise_row(gate_in[g], in.gate_w[g].data_ptr<T>(), static_cast<const T*>(nullptr), NH, DH,
                   DH, wx.data() + g * H);
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

bool cpu_of_dtype(const torch::Tensor& t, torch::ScalarType dtype) {
  return !t.defined() || (t.device().is_cpu() && t.scalar_type() == dtype);
}

}  // namespace

bool fused_step_applies(const sLSTMLayerImpl& layer, const torch::Tensor& x,
                        const sLSTMState& state) {
  const auto dtype = x.scalar_type();
  if (!x.device().is_cpu() || (dtype != torch::kFloat32 && dtype != torch::kFloat64)) return false;
  if (layer.is_training() && layer.config.dropout > 0) return false;
  if (layer.conv1d && layer.conv1d->config.channel_mixing) return false;
  const int64_t B = x.size(0), H = layer.config.embedding_dim;
  if (state.defined()) {
    for (const auto& t : {state.y, state.c, state.n, state.m}) {
      if (!t.defined() || t.sizes() != c10::IntArrayRef({B, H})) return false;
    }
  } else if (state.c.defined() || state.n.defined() || state.m.defined()) {
    return false;
  }
  if (state.conv.defined() &&
      (!layer.conv1d ||
       state.conv.sizes() != c10::IntArrayRef({B, layer.config.conv1d_kernel_size, H})))
    return false;
  const bool grad = torch::GradMode::is_enabled();
  for (const auto& t : {x, state.y, state.c, state.n, state.m, state.conv}) {
    if (!cpu_of_dtype(t, dtype) || (grad && t.defined() && t.requires_grad())) return false;
  }
  for (const auto& p : layer.parameters()) {
    if (!cpu_of_dtype(p, dtype) || (grad && p.requires_grad())) return false;
  }
  return true;
}

std::pair<torch::Tensor, sLSTMState> fused_step(const sLSTMLayerImpl& layer, const torch::Tensor& x,
                                                const sLSTMState& state) {
  const int64_t B = x.size(0), H = layer.config.embedding_dim;
  const auto c = contiguous_or_undefined;
  Tensors in;
  in.x = x.contiguous();
  if (layer.conv1d) {
    in.conv_w = c(layer.conv1d->conv->weight);
    in.conv_b = c(layer.conv1d->conv->bias);
    in.conv_in = c(state.conv);
  }
  const LinearHeadwiseExpand* projections[kGates] = {&layer.fgate, &layer.igate, &layer.zgate,
                                                     &layer.ogate};
  for (int64_t g = 0; g < kGates; ++g) in.gate_w[g] = c((*projections[g])->weight);
  in.R = c(layer.slstm_cell->_recurrent_kernel_);
  in.bias = c(layer.slstm_cell->_bias_);
  in.norm_w = c(layer.group_norm->weight_proxy());
  in.norm_b = c(layer.group_norm->bias);
  in.y_in = c(state.y);
  in.c_in = c(state.c);
  in.n_in = c(state.n);
  in.m_in = c(state.m);

  const auto options = x.options();
  torch::Tensor out = torch::empty({B, 1, H}, options);
  sLSTMState next{torch::empty({B, H}, options), torch::empty({B, H}, options),
                  torch::empty({B, H}, options), torch::empty({B, H}, options),
                  layer.conv1d ? torch::empty({B, layer.config.conv1d_kernel_size, H}, options)
                               : torch::Tensor()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "slstm_fused_step", [&] {
    step_loop<scalar_t>(layer, in, out.data_ptr<scalar_t>(),
                        next.conv.defined() ? next.conv.data_ptr<scalar_t>() : nullptr,
                        next.y.data_ptr<scalar_t>(), next.c.data_ptr<scalar_t>(),
                        next.n.data_ptr<scalar_t>(), next.m.data_ptr<scalar_t>(), B);
  });
  return {out, next};
}

}  // namespace xlstm::slstm
