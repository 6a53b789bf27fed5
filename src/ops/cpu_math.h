// Scalar functions and row loops of the raw-pointer CPU ops (the sLSTM recurrence loops and the
// fused layer steps; a step is bound by per-op overhead, so these fuse dozens of tiny ATen ops).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace xlstm::ops {

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

/// log(sigmoid(x)) without overflow for large |x|.
template <typename T>
inline T log_sigmoid(T x) {
  return x < T(0) ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x));
}

template <typename T>
inline T silu(T x) {
  return x / (T(1) + std::exp(-x));
}

/// sum_i a[i] b[i] with eight partial sums, so that the compiler vectorises the reduction.
template <typename T>
inline T dot(const T* a, const T* b, int64_t n) {
  T partial[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) partial[k] += a[i + k] * b[i + k];
  }
  T sum = 0;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int k = 0; k < 8; ++k) sum += partial[k];
  return sum;
}

/// y[h * O + o] = sum_i x[h * I + i] W[h, o, i] (+ b[h * O + o]); b may be null.
template <typename T>
void headwise_row(const T* x, const T* W, const T* b, int64_t heads, int64_t O, int64_t I, T* y) {
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t o = 0; o < O; ++o) {
      y[h * O + o] = dot(x + h * I, W + (h * O + o) * I, I) + (b ? b[h * O + o] : T(0));
    }
  }
}

/// One step of the depthwise causal conv (weight [F, 1, KS], bias [F] or null): `window` [KS, F]
/// becomes the previous KS - 1 inputs (from `prev_window`, zeros when null) then `x`, which is also
/// the next conv state; `y` [F] = the window convolved with the weights.
template <typename T>
void causal_conv_step_row(const T* x, const T* prev_window, const T* weight, const T* bias,
                          int64_t F, int64_t KS, T* window, T* y) {
  for (int64_t k = 0; k + 1 < KS; ++k) {
    for (int64_t f = 0; f < F; ++f)
      window[k * F + f] = prev_window ? prev_window[(k + 1) * F + f] : T(0);
  }
  std::copy(x, x + F, window + (KS - 1) * F);
  for (int64_t f = 0; f < F; ++f) {
    T acc = 0;
    for (int64_t k = 0; k < KS; ++k) acc += window[k * F + f] * weight[f * KS + k];
    y[f] = acc + (bias ? bias[f] : T(0));
  }
}

/// Layer norm of the DH values of one head in place, then times weight (+ bias); either may be
/// null.
template <typename T>
void head_norm(T* h, const T* weight, const T* bias, int64_t DH, T eps) {
  T mean = 0;
  for (int64_t d = 0; d < DH; ++d) mean += h[d];
  mean /= static_cast<T>(DH);
  T var = 0;
  for (int64_t d = 0; d < DH; ++d) var += (h[d] - mean) * (h[d] - mean);
  const T inv_std = T(1) / std::sqrt(var / static_cast<T>(DH) + eps);
  for (int64_t d = 0; d < DH; ++d) {
    h[d] = (h[d] - mean) * inv_std;
    if (weight) h[d] *= weight[d];
    if (bias) h[d] += bias[d];
  }
}

}  // namespace xlstm::ops
