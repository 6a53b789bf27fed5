#include "layer_step_cpu.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../../components/step_kernels.h"

namespace xlstm::mlstm {
namespace {

constexpr double kCellEps = 1e-6;  // recurrent_step_stabilized_simple's default

template <typename T>
T log_sigmoid(T x) {
  return x < T(0) ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x));
}

template <typename T>
const T* ptr_or_null(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

/// Tensors of the fused step, contiguous and in the compute dtype.
struct Weights {
  torch::Tensor conv_w, conv_b, q_w, q_b, k_w, k_b, v_w, v_b, i_w, i_b, f_w, f_b, norm_w, norm_b,
      skip;
};

Weights weights_of(const mLSTMLayerImpl& layer) {
  const auto c = [](const torch::Tensor& t) { return t.defined() ? t.contiguous() : t; };
  const auto& cell = *layer.mlstm_cell;
  return {c(layer.conv1d->conv->weight),   c(layer.conv1d->conv->bias),
          c(layer.q_proj->weight),         c(layer.q_proj->bias),
          c(layer.k_proj->weight),         c(layer.k_proj->bias),
          c(layer.v_proj->weight),         c(layer.v_proj->bias),
          c(cell.igate->weight),           c(cell.igate->bias),
          c(cell.fgate->weight),           c(cell.fgate->bias),
          c(cell.outnorm->weight_proxy()), c(cell.outnorm->bias),
          c(layer.learnable_skip)};
}

template <typename T>
void step_loop(const mLSTMLayerImpl& layer, const Weights& w, const T* x_inner, const T* conv_in,
               const T* C_in, const T* n_in, const T* m_in, T* out, T* conv_out, T* C_out, T* n_out,
               T* m_out, int64_t B) {
  const int64_t F = layer.config._inner_embedding_dim, KS = layer.config.conv1d_kernel_size;
  const int64_t NH = layer.config.num_heads, DH = F / NH;
  const int64_t QH = layer.q_proj->config.num_heads;
  const int64_t QO = F / QH, QI = F / QH;
  const T* conv_w = w.conv_w.data_ptr<T>();
  const T* conv_b = ptr_or_null<T>(w.conv_b);
  const T *i_w = w.i_w.data_ptr<T>(), *i_b = ptr_or_null<T>(w.i_b);
  const T *f_w = w.f_w.data_ptr<T>(), *f_b = ptr_or_null<T>(w.f_b);
  const T *norm_w = ptr_or_null<T>(w.norm_w), *norm_b = ptr_or_null<T>(w.norm_b);
  const T* skip = w.skip.data_ptr<T>();
  const T key_scale = T(1) / std::sqrt(static_cast<T>(DH));
  const T norm_eps = static_cast<T>(layer.mlstm_cell->outnorm->eps);

  std::vector<T> x_act(F), qkv(3 * F), h(DH);
  for (int64_t b = 0; b < B; ++b) {
    const T* x_mlstm = x_inner + b * 2 * F;
    const T* z = x_mlstm + F;
    causal_conv_step_row(x_mlstm, conv_in ? conv_in + b * KS * F : nullptr, conv_w, conv_b, F, KS,
                         conv_out + b * KS * F, x_act.data());
    for (int64_t f = 0; f < F; ++f) x_act[f] = silu(x_act[f]);
    T *q = qkv.data(), *key = q + F, *v = key + F;
    headwise_row(x_act.data(), w.q_w.data_ptr<T>(), ptr_or_null<T>(w.q_b), QH, QO, QI, q);
    headwise_row(x_act.data(), w.k_w.data_ptr<T>(), ptr_or_null<T>(w.k_b), QH, QO, QI, key);
    headwise_row(x_mlstm, w.v_w.data_ptr<T>(), ptr_or_null<T>(w.v_b), QH, QO, QI, v);

    for (int64_t hd = 0; hd < NH; ++hd) {
      // Gate pre-activations from cat(q, k, v).
      const T i_pre = dot(i_w + hd * 3 * F, qkv.data(), 3 * F) + (i_b ? i_b[hd] : T(0));
      const T f_pre = dot(f_w + hd * 3 * F, qkv.data(), 3 * F) + (f_b ? f_b[hd] : T(0));
      // Stabilised gates: m' = max(log f + m, i) (paper eqs. 15-17).
      const int64_t s = b * NH + hd;
      const T log_f_plus_m = log_sigmoid(f_pre) + (m_in ? m_in[s] : T(0));
      const T m_new = std::max(log_f_plus_m, i_pre);
      const T f_act = std::exp(log_f_plus_m - m_new);
      const T i_scale = std::exp(i_pre - m_new) * key_scale;
      m_out[s] = m_new;
      const T *qh = q + hd * DH, *kh = key + hd * DH, *vh = v + hd * DH;
      const T* C_old = C_in ? C_in + s * DH * DH : nullptr;
      const T* n_old = n_in ? n_in + s * DH : nullptr;
      T* C_new = C_out + s * DH * DH;
      T* n_new = n_out + s * DH;
      // C' = f C + i k v^T, n' = f n + i k (eqs. 19-20); h = C'^T q / max(|n'^T q|, exp(-m')).
      T* __restrict h_acc = h.data();
      std::fill(h_acc, h_acc + DH, T(0));
      for (int64_t d1 = 0; d1 < DH; ++d1) {
        const T ik = kh[d1] * i_scale, q_d1 = qh[d1];
        T* __restrict C_new_row = C_new + d1 * DH;
        const T* __restrict v_row = vh;
        if (C_old) {
          const T* __restrict C_row = C_old + d1 * DH;
          for (int64_t d2 = 0; d2 < DH; ++d2) C_new_row[d2] = f_act * C_row[d2] + ik * v_row[d2];
        } else {
          for (int64_t d2 = 0; d2 < DH; ++d2) C_new_row[d2] = ik * v_row[d2];
        }
        for (int64_t d2 = 0; d2 < DH; ++d2) h_acc[d2] += q_d1 * C_new_row[d2];
        n_new[d1] = ik + f_act * (n_old ? n_old[d1] : T(0));
      }
      const T denominator = dot(qh, n_new, DH);
      const T normaliser = std::max(std::abs(denominator), std::exp(-m_new)) + T(kCellEps);
      for (int64_t d = 0; d < DH; ++d) h[d] /= normaliser;
      head_norm(h.data(), norm_w ? norm_w + hd * DH : nullptr, norm_b ? norm_b + hd * DH : nullptr,
                DH, norm_eps);
      for (int64_t d = 0; d < DH; ++d) {
        const int64_t f = hd * DH + d;
        // Learnable skip around the cell, then the output gate silu(z).
        out[b * F + f] = (h[d] + skip[f] * x_act[f]) * silu(z[f]);
      }
    }
  }
}

bool same_kind(const torch::Tensor& t, torch::ScalarType dtype) {
  return !t.defined() || (t.device().is_cpu() && t.scalar_type() == dtype);
}

bool needs_grad(const torch::Tensor& t) {
  return t.defined() && t.requires_grad();
}

}  // namespace

bool fused_step_applies(const mLSTMLayerImpl& layer, const torch::Tensor& x_inner,
                        const mLSTMState& state) {
  const auto dtype = x_inner.scalar_type();
  if (!x_inner.device().is_cpu() || (dtype != torch::kFloat32 && dtype != torch::kFloat64))
    return false;
  const auto& conv = *layer.conv1d;
  if (!conv.conv || conv.config.channel_mixing) return false;
  const int64_t F = layer.config._inner_embedding_dim, B = x_inner.size(0);
  for (const auto* proj : {&layer.q_proj, &layer.k_proj, &layer.v_proj}) {
    if ((*proj)->config._out_features != F || (*proj)->config.in_features != F ||
        (*proj)->config.num_heads != layer.q_proj->config.num_heads)
      return false;
  }
  if (state.conv.defined() &&
      state.conv.sizes() != c10::IntArrayRef({B, conv.config.kernel_size, F}))
    return false;
  if (state.defined()) {
    const int64_t NH = layer.config.num_heads, DH = F / NH;
    if (state.C.sizes() != c10::IntArrayRef({B, NH, DH, DH}) ||
        state.n.sizes() != c10::IntArrayRef({B, NH, DH, 1}) ||
        state.m.sizes() != c10::IntArrayRef({B, NH, 1, 1}))
      return false;
  } else if (state.C.defined() || state.n.defined() || state.m.defined()) {
    return false;
  }
  const bool grad = torch::GradMode::is_enabled();
  for (const auto& t : {state.C, state.n, state.m, state.conv, x_inner}) {
    if (!same_kind(t, dtype) || (grad && needs_grad(t))) return false;
  }
  for (const auto& p : layer.parameters()) {
    if (!same_kind(p, dtype) || (grad && p.requires_grad())) return false;
  }
  return true;
}

std::pair<torch::Tensor, mLSTMState> fused_step(const mLSTMLayerImpl& layer,
                                                const torch::Tensor& x_inner,
                                                const mLSTMState& state) {
  const int64_t B = x_inner.size(0), F = layer.config._inner_embedding_dim;
  const int64_t KS = layer.config.conv1d_kernel_size, NH = layer.config.num_heads, DH = F / NH;
  const auto options = x_inner.options();
  const Weights w = weights_of(layer);
  const torch::Tensor x = x_inner.contiguous();
  const auto contiguous = [](const torch::Tensor& t) { return t.defined() ? t.contiguous() : t; };
  const torch::Tensor conv_in = contiguous(state.conv), C_in = contiguous(state.C),
                      n_in = contiguous(state.n), m_in = contiguous(state.m);
  torch::Tensor out = torch::empty({B, 1, F}, options);
  mLSTMState next{torch::empty({B, NH, DH, DH}, options), torch::empty({B, NH, DH, 1}, options),
                  torch::empty({B, NH, 1, 1}, options), torch::empty({B, KS, F}, options)};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mlstm_fused_step", [&] {
    step_loop<scalar_t>(layer, w, x.data_ptr<scalar_t>(), ptr_or_null<scalar_t>(conv_in),
                        ptr_or_null<scalar_t>(C_in), ptr_or_null<scalar_t>(n_in),
                        ptr_or_null<scalar_t>(m_in), out.data_ptr<scalar_t>(),
                        next.conv.data_ptr<scalar_t>(), next.C.data_ptr<scalar_t>(),
                        next.n.data_ptr<scalar_t>(), next.m.data_ptr<scalar_t>(), B);
  });
  return {out, next};
}

}  // namespace xlstm::mlstm
