#include "xlstm/ops/mlstm_layer_step.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../cpu_math.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::mlstm {
namespace {

constexpr double kCellEps = 1e-6;  // recurrent_step_stabilized's default

/// Sizes of the step loop.
struct Dims {
  int64_t B, F, KS, NH, DH, QH;
};

/// `w`: the weights, contiguous.
template <typename T>
void step_loop(const LayerStepWeights& w, const Dims& dims, const T* x_inner, const T* conv_in,
               const T* C_in, const T* n_in, const T* m_in, T* out, T* conv_out, T* C_out, T* n_out,
               T* m_out) {
  const int64_t B = dims.B, F = dims.F, KS = dims.KS, NH = dims.NH, DH = dims.DH, QH = dims.QH;
  const int64_t QO = F / QH, QI = F / QH;
  const T* conv_w = w.conv_weight.data_ptr<T>();
  const T* conv_b = data_or_null<T>(w.conv_bias);
  const T *i_w = w.igate_weight.data_ptr<T>(), *i_b = data_or_null<T>(w.igate_bias);
  const T *f_w = w.fgate_weight.data_ptr<T>(), *f_b = data_or_null<T>(w.fgate_bias);
  const T *norm_w = data_or_null<T>(w.norm_weight), *norm_b = data_or_null<T>(w.norm_bias);
  const T* skip = w.learnable_skip.data_ptr<T>();
  const T key_scale = T(1) / std::sqrt(static_cast<T>(DH));
  const T norm_eps = static_cast<T>(w.norm_eps);

  std::vector<T> x_act(F), qkv(3 * F), h(DH);
  for (int64_t b = 0; b < B; ++b) {
    const T* x_mlstm = x_inner + b * 2 * F;
    const T* z = x_mlstm + F;
    causal_conv_step_row(x_mlstm, conv_in ? conv_in + b * KS * F : nullptr, conv_w, conv_b, F, KS,
                         conv_out + b * KS * F, x_act.data());
    for (int64_t f = 0; f < F; ++f) x_act[f] = silu(x_act[f]);
    T *q = qkv.data(), *key = q + F, *v = key + F;
    headwise_row(x_act.data(), w.q_weight.data_ptr<T>(), data_or_null<T>(w.q_bias), QH, QO, QI, q);
    headwise_row(x_act.data(), w.k_weight.data_ptr<T>(), data_or_null<T>(w.k_bias), QH, QO, QI,
                 key);
    headwise_row(x_mlstm, w.v_weight.data_ptr<T>(), data_or_null<T>(w.v_bias), QH, QO, QI, v);

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
      // (C_new may be C_old: each element is read before it is written.)
      T* __restrict h_acc = h.data();
      std::fill(h_acc, h_acc + DH, T(0));
      for (int64_t d1 = 0; d1 < DH; ++d1) {
        const T ik = kh[d1] * i_scale, q_d1 = qh[d1];
        T* C_new_row = C_new + d1 * DH;
        const T* __restrict v_row = vh;
        if (C_old) {
          const T* C_row = C_old + d1 * DH;
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

LayerStepWeights contiguous(const LayerStepWeights& w) {
  const auto c = contiguous_if_defined;
  LayerStepWeights out = w;
  for (torch::Tensor* t :
       {&out.conv_weight, &out.conv_bias, &out.q_weight, &out.q_bias, &out.k_weight, &out.k_bias,
        &out.v_weight, &out.v_bias, &out.igate_weight, &out.igate_bias, &out.fgate_weight,
        &out.fgate_bias, &out.norm_weight, &out.norm_bias, &out.learnable_skip})
    *t = c(*t);
  return out;
}

}  // namespace

LayerStepResult layer_step_cpu(const LayerStepWeights& weights, const torch::Tensor& x_inner,
                               const LayerStepState& state, const LayerStepState* out) {
  const int64_t B = x_inner.size(0), F = x_inner.size(2) / 2;
  const int64_t KS = weights.conv_weight.size(2), NH = weights.num_heads;
  const Dims dims{B, F, KS, NH, F / NH, weights.q_weight.size(0)};
  const auto options = x_inner.options();
  const LayerStepWeights w = contiguous(weights);
  const torch::Tensor x = x_inner.contiguous();
  const auto c = contiguous_if_defined;
  const torch::Tensor conv_in = c(state.conv), C_in = c(state.cell.C), n_in = c(state.cell.n),
                      m_in = c(state.cell.m);
  LayerStepResult r;
  r.h = torch::empty({B, 1, F}, options);
  if (out) {
    check_step_out("mlstm::layer_step_cpu", {out->cell.C, out->cell.n, out->cell.m, out->conv},
                   {{B, NH, dims.DH, dims.DH}, {B, NH, dims.DH, 1}, {B, NH, 1, 1}, {B, KS, F}},
                   x.scalar_type());
    r.state = *out;
  } else {
    r.state.cell = {torch::empty({B, NH, dims.DH, dims.DH}, options),
                    torch::empty({B, NH, dims.DH, 1}, options),
                    torch::empty({B, NH, 1, 1}, options)};
    r.state.conv = torch::empty({B, KS, F}, options);
  }
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mlstm_layer_step_cpu", [&] {
    step_loop<scalar_t>(w, dims, x.data_ptr<scalar_t>(), data_or_null<scalar_t>(conv_in),
                        data_or_null<scalar_t>(C_in), data_or_null<scalar_t>(n_in),
                        data_or_null<scalar_t>(m_in), r.h.data_ptr<scalar_t>(),
                        r.state.conv.data_ptr<scalar_t>(), r.state.cell.C.data_ptr<scalar_t>(),
                        r.state.cell.n.data_ptr<scalar_t>(), r.state.cell.m.data_ptr<scalar_t>());
  });
  return r;
}

#ifndef XLSTM_WITH_CUDA
// A build without CUDA (the definitions with CUDA: layer_step_cuda.cpp).
bool layer_step_cuda_applies(const LayerStepWeights&, const torch::Tensor&, const LayerStepState&,
                             const LayerStepState*) {
  return false;
}

LayerStepResult layer_step_cuda(const LayerStepWeights&, const torch::Tensor&,
                                const LayerStepState&, const LayerStepState*) {
  TORCH_CHECK(false,
              "mlstm::layer_step_cuda: this build has no CUDA (configure with XLSTM_CUDA=ON)");
}
#endif

}  // namespace xlstm::ops::mlstm
