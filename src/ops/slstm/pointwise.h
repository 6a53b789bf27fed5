// One sLSTM step for one hidden unit (xLSTM paper, Beck et al. 2024, eqs. 8-17 with the stabiliser
// of eqs. 15-17), forward and its derivative, exactly as the official vanilla code computes it.
#pragma once

#include <cmath>
#include <limits>

#include "../cpu_math.h"

namespace xlstm::ops::slstm::detail {

/// Which argument of max(i~, log f + m_{t-1}) became the new stabiliser m_t.
enum class MaxSource { kInput, kForget, kTie };

template <typename T>
struct PointwiseState {
  T m, igate, fgate, zval, ogate, c, n, y_raw, y;
  MaxSource m_source;
  bool fgate_clamped;  // min(exp(.), 1) active: only possible on the first step
  bool y_clipped;      // forward_clipval active
};

/// raw_*: gate pre-activations; *_prev: the state before the step. `first_step`: the official
/// quirk (normaliser all zero) sets m_t = i~. `clip` <= 0 means no forward clipping of y.
template <typename T>
inline PointwiseState<T> pointwise_forward(T raw_i, T raw_f, T raw_z, T raw_o, T c_prev, T n_prev,
                                           T m_prev, bool first_step, T clip) {
  PointwiseState<T> s;
  const T log_f_plus_m = log_sigmoid(raw_f) + m_prev;
  if (first_step || raw_i > log_f_plus_m) {
    s.m = raw_i;
    s.m_source = MaxSource::kInput;
  } else if (log_f_plus_m > raw_i) {
    s.m = log_f_plus_m;
    s.m_source = MaxSource::kForget;
  } else {  // a tie, or a NaN that torch.max propagates
    s.m = raw_i == log_f_plus_m ? raw_i : std::numeric_limits<T>::quiet_NaN();
    s.m_source = MaxSource::kTie;
  }
  // Both exponential gates are clamped at 1, as the official code does. The one whose argument
  // became m is exp(0) = 1.
  const T i_exp = s.m_source == MaxSource::kInput ? T(1) : std::exp(raw_i - s.m);
  s.igate = i_exp > T(1) ? T(1) : i_exp;
  const T f_exp = s.m_source == MaxSource::kForget ? T(1) : std::exp(log_f_plus_m - s.m);
  s.fgate_clamped = f_exp > T(1);
  s.fgate = s.fgate_clamped ? T(1) : f_exp;
  s.zval = std::tanh(raw_z);
  s.ogate = sigmoid(raw_o);
  s.c = s.fgate * c_prev + s.igate * s.zval;
  s.n = s.fgate * n_prev + s.igate;
  s.y_raw = s.ogate * s.c / s.n;
  s.y_clipped = clip > T(0) && std::abs(s.y_raw) > clip;
  s.y = s.y_clipped ? std::copysign(clip, s.y_raw) : s.y_raw;
  return s;
}

/// Gradients of one step: the pre-activations and the previous (c, n, m).
template <typename T>
struct PointwiseGrad {
  T raw_i, raw_f, raw_z, raw_o, c_prev, n_prev, m_prev;
};

/// The derivative of pointwise_forward given the gradients reaching y_t, c_t, n_t and m_t. Ties of
/// the max split the gradient in halves (torch.maximum); a clamped gate passes none.
template <typename T>
inline PointwiseGrad<T> pointwise_backward(const PointwiseState<T>& s, T raw_f, T c_prev, T n_prev,
                                           T dy, T dc, T dn, T dm) {
  PointwiseGrad<T> g;
  const T dy_raw = s.y_clipped ? T(0) : dy;
  const T c_over_n = s.c / s.n;
  g.raw_o = dy_raw * c_over_n * s.ogate * (T(1) - s.ogate);
  dc += dy_raw * s.ogate / s.n;
  dn -= dy_raw * s.y_raw / s.n;
  g.raw_z = dc * s.igate * (T(1) - s.zval * s.zval);
  // igate = exp(i~ - m), fgate = exp(log f + m_{t-1} - m); their log-arguments get:
  const T d_log_i = (dc * s.zval + dn) * s.igate;
  const T d_log_f = s.fgate_clamped ? T(0) : (dc * c_prev + dn * n_prev) * s.fgate;
  const T dm_new = dm - d_log_i - d_log_f;
  T d_log_f_plus_m = d_log_f;
  g.raw_i = d_log_i;
  if (s.m_source == MaxSource::kInput) {
    g.raw_i += dm_new;
  } else if (s.m_source == MaxSource::kForget) {
    d_log_f_plus_m += dm_new;
  } else {
    g.raw_i += dm_new / T(2);
    d_log_f_plus_m += dm_new / T(2);
  }
  g.raw_f = d_log_f_plus_m * sigmoid(-raw_f);  // d/dx log sigmoid(x) = sigmoid(-x)
  g.m_prev = d_log_f_plus_m;
  g.c_prev = dc * s.fgate;
  g.n_prev = dn * s.fgate;
  return g;
}

}  // namespace xlstm::ops::slstm::detail
