// The sLSTM recurrence as raw-pointer loops: every (batch, head) pair is an independent recurrence
// (R is block-diagonal per head), so they run in parallel, each over all S steps.
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "pointwise.h"
#include "recurrence_passes.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::slstm::detail {
namespace {

struct Dims {
  int64_t S, B, H, NH, DH;
};

Dims dims_of(const torch::Tensor& wx, const torch::Tensor& recurrent_kernel) {
  const int64_t NH = recurrent_kernel.size(0), DH = recurrent_kernel.size(2);
  return {wx.size(0), wx.size(1), NH * DH, NH, DH};
}

/// Smallest number of (batch, head) recurrences worth a thread of their own: a step (S = 1) is
/// microseconds of work, less than waking the thread pool costs.
int64_t grain_size(const Dims& d) {
  constexpr int64_t kMinWorkPerThread = 1 << 16;  // multiply-adds
  const int64_t work_per_task = std::max<int64_t>(1, d.S * kGates * d.DH * d.DH);
  return std::max<int64_t>(1, kMinWorkPerThread / work_per_task);
}

/// Pointers of the state (y, c, n, m) before step t for one (batch, head): state0 at t = 0.
template <typename T>
struct PrevState {
  const T *y, *c, *n, *m;
};

template <typename T>
PrevState<T> prev_state(const T* state0, const T* y, const T* c, const T* n, const T* m,
                        const Dims& d, int64_t t, int64_t offset) {
  if (t == 0) {
    const int64_t BH = d.B * d.H;
    return {state0 + offset, state0 + BH + offset, state0 + 2 * BH + offset,
            state0 + 3 * BH + offset};
  }
  const int64_t at = (t - 1) * d.B * d.H + offset;
  return {y + at, c + at, n + at, m + at};
}

/// R_t [NH, DH_in, 4*DH_out] (R transposed per head) so that R y is a sum of contiguous rows.
template <typename T>
void forward_loop(const T* wx, const T* state0, const T* R_t, const T* bias, T* y, T* c, T* n, T* m,
                  T* raw, const Dims& d, bool first_step_quirk, T clip) {
  const int64_t G_DH = kGates * d.DH;
  at::parallel_for(0, d.B * d.NH, grain_size(d), [&](int64_t begin, int64_t end) {
    std::vector<T> Ry(G_DH), scratch(G_DH);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / d.NH, h = task % d.NH;
      const int64_t offset = b * d.H + h * d.DH;  // of this head in a [B, H] state
      const T* R_h = R_t + h * d.DH * G_DH;
      for (int64_t t = 0; t < d.S; ++t) {
        const PrevState<T> prev = prev_state(state0, y, c, n, m, d, t, offset);
        std::fill(Ry.begin(), Ry.end(), T(0));
        for (int64_t i = 0; i < d.DH; ++i) {
          const T y_i = prev.y[i];
          const T* R_row = R_h + i * G_DH;
          for (int64_t j = 0; j < G_DH; ++j) Ry[j] += R_row[j] * y_i;  // vectorises over j
        }
        // Pre-activations wx + R y_{t-1} + b, gate g of unit o at gates[g * stride + o].
        const int64_t row = t * d.B + b;
        const T* wx_t = wx + row * kGates * d.H + h * d.DH;
        T* gates = raw ? raw + row * kGates * d.H + h * d.DH : scratch.data();
        const int64_t stride = raw ? d.H : d.DH;
        for (int g = 0; g < kGates; ++g) {
          for (int64_t o = 0; o < d.DH; ++o)
            gates[g * stride + o] =
                wx_t[g * d.H + o] + Ry[g * d.DH + o] + bias[g * d.H + h * d.DH + o];
        }
        const int64_t out = t * d.B * d.H + offset;
        for (int64_t o = 0; o < d.DH; ++o) {
          const PointwiseState<T> s = pointwise_forward(
              gates[o], gates[stride + o], gates[2 * stride + o], gates[3 * stride + o], prev.c[o],
              prev.n[o], prev.m[o], first_step_quirk && t == 0, clip);
          y[out + o] = s.y;
          c[out + o] = s.c;
          n[out + o] = s.n;
          m[out + o] = s.m;
        }
      }
    }
  });
}

template <typename T>
void backward_loop(const T* raw, const T* state0, const T* R, const T* y, const T* c, const T* n,
                   const T* m, const T* grad_y, const T* grad_final, T* d_raw, T* d_state0,
                   const Dims& d, bool first_step_quirk, T clip, bool recurrent_cut,
                   T recurrent_clip) {
  const int64_t BH = d.B * d.H;
  at::parallel_for(0, d.B * d.NH, grain_size(d), [&](int64_t begin, int64_t end) {
    // Gradients reaching y_t through R (dy_rec), and c_t, n_t, m_t, for the units of one head.
    std::vector<T> dy_rec(d.DH), dc(d.DH), dn(d.DH), dm(d.DH);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / d.NH, h = task % d.NH;
      const int64_t offset = b * d.H + h * d.DH;
      const T* R_h = R + h * kGates * d.DH * d.DH;
      for (int64_t o = 0; o < d.DH; ++o) {
        dy_rec[o] = 0;
        dc[o] = grad_final ? grad_final[BH + offset + o] : T(0);
        dn[o] = grad_final ? grad_final[2 * BH + offset + o] : T(0);
        dm[o] = grad_final ? grad_final[3 * BH + offset + o] : T(0);
      }
      for (int64_t t = d.S - 1; t >= 0; --t) {
        const PrevState<T> prev = prev_state(state0, y, c, n, m, d, t, offset);
        const int64_t row = t * d.B + b;
        const T* gates = raw + row * kGates * d.H + h * d.DH;
        T* d_gates = d_raw + row * kGates * d.H + h * d.DH;
        const int64_t out = t * d.B * d.H + offset;
        for (int64_t o = 0; o < d.DH; ++o) {
          T dy_r = dy_rec[o];
          if (recurrent_clip > T(0))
            dy_r = std::min(std::max(dy_r, -recurrent_clip), recurrent_clip);
          T dy = dy_r + (grad_y ? grad_y[out + o] : T(0));
          if (t == d.S - 1 && grad_final) dy += grad_final[offset + o];
          const T raw_f = gates[d.H + o];
          const PointwiseState<T> s =
              pointwise_forward(gates[o], raw_f, gates[2 * d.H + o], gates[3 * d.H + o], prev.c[o],
                                prev.n[o], prev.m[o], first_step_quirk && t == 0, clip);
          const PointwiseGrad<T> g =
              pointwise_backward(s, raw_f, prev.c[o], prev.n[o], dy, dc[o], dn[o], dm[o]);
          d_gates[o] = g.raw_i;
          d_gates[d.H + o] = g.raw_f;
          d_gates[2 * d.H + o] = g.raw_z;
          d_gates[3 * d.H + o] = g.raw_o;
          dc[o] = g.c_prev;
          dn[o] = g.n_prev;
          dm[o] = g.m_prev;
        }
        // dy_{t-1} through the recurrent matmul: R_h^T d_gates (none with gradient_recurrent_cut).
        for (int64_t i = 0; i < d.DH; ++i) dy_rec[i] = 0;
        if (recurrent_cut) continue;
        for (int g = 0; g < kGates; ++g) {
          for (int64_t o = 0; o < d.DH; ++o) {
            const T* R_row = R_h + (g * d.DH + o) * d.DH;
            const T dg = d_gates[g * d.H + o];
            for (int64_t i = 0; i < d.DH; ++i) dy_rec[i] += R_row[i] * dg;
          }
        }
      }
      const T* states[4] = {dy_rec.data(), dc.data(), dn.data(), dm.data()};
      for (int k = 0; k < 4; ++k)
        for (int64_t o = 0; o < d.DH; ++o) d_state0[k * BH + offset + o] = states[k][o];
    }
  });
}

}  // namespace

ForwardResult recurrence_forward_cpu(const torch::Tensor& wx, const torch::Tensor& state0,
                                     const torch::Tensor& recurrent_kernel,
                                     const torch::Tensor& bias, const RecurrenceOptions& options,
                                     bool first_step_quirk, bool keep_preactivations) {
  const Dims d = dims_of(wx, recurrent_kernel);
  const auto opts = wx.options();
  ForwardResult r;
  r.y = torch::empty({d.S, d.B, d.H}, opts);
  r.c = torch::empty_like(r.y);
  r.n = torch::empty_like(r.y);
  r.m = torch::empty_like(r.y);
  if (keep_preactivations) r.raw = torch::empty({d.S, d.B, kGates * d.H}, opts);
  const torch::Tensor R_t = recurrent_kernel.transpose(1, 2).contiguous();
  AT_DISPATCH_FLOATING_TYPES(wx.scalar_type(), "slstm_forward", [&] {
    forward_loop<scalar_t>(wx.data_ptr<scalar_t>(), state0.data_ptr<scalar_t>(),
                           R_t.data_ptr<scalar_t>(), bias.data_ptr<scalar_t>(),
                           r.y.data_ptr<scalar_t>(), r.c.data_ptr<scalar_t>(),
                           r.n.data_ptr<scalar_t>(), r.m.data_ptr<scalar_t>(),
                           keep_preactivations ? r.raw.data_ptr<scalar_t>() : nullptr, d,
                           first_step_quirk, options.forward_clipval.value_or(0.0));
  });
  return r;
}

BackwardResult recurrence_backward_cpu(const ForwardResult& saved, const torch::Tensor& state0,
                                       const torch::Tensor& recurrent_kernel,
                                       const torch::Tensor& grad_y, const torch::Tensor& grad_final,
                                       const RecurrenceOptions& options, bool first_step_quirk) {
  const Dims d = dims_of(saved.raw, recurrent_kernel);
  BackwardResult r;
  r.d_wx = torch::empty_like(saved.raw);
  r.d_state0 = torch::empty_like(state0);
  AT_DISPATCH_FLOATING_TYPES(saved.raw.scalar_type(), "slstm_backward", [&] {
    backward_loop<scalar_t>(saved.raw.data_ptr<scalar_t>(), state0.data_ptr<scalar_t>(),
                            recurrent_kernel.data_ptr<scalar_t>(), saved.y.data_ptr<scalar_t>(),
                            saved.c.data_ptr<scalar_t>(), saved.n.data_ptr<scalar_t>(),
                            saved.m.data_ptr<scalar_t>(), data_or_null<scalar_t>(grad_y),
                            data_or_null<scalar_t>(grad_final), r.d_wx.data_ptr<scalar_t>(),
                            r.d_state0.data_ptr<scalar_t>(), d, first_step_quirk,
                            options.forward_clipval.value_or(0.0), options.gradient_recurrent_cut,
                            options.gradient_recurrent_clipval.value_or(0.0));
  });
  return r;
}

}  // namespace xlstm::ops::slstm::detail
