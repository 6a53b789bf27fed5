// recurrence_vanilla against an independent op-by-op LibTorch reference (autograd), finite
// differences, and the properties of the official recurrence.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/slstm/recurrence_passes.h"  // the passes themselves, on purpose
#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "support/tolerance.h"
#include "xlstm/ops/slstm_recurrence.h"

namespace xlstm::ops::slstm {
namespace {

using test::max_abs_diff;
using test::max_rel_diff;

struct Inputs {
  torch::Tensor wx, state0, R, bias;
};

/// Random inputs; `zero_state`: state0 = 0 (the first-step quirk), otherwise a state with n > 0.
Inputs make_inputs(int64_t S, int64_t B, int64_t NH, int64_t DH, bool zero_state, double scale = 1,
                   torch::ScalarType dtype = torch::kFloat64) {
  const int64_t H = NH * DH;
  const auto opts = torch::TensorOptions().dtype(dtype);
  Inputs in;
  in.wx = scale * torch::randn({S, B, 4 * H}, opts);
  in.R = 0.5 * torch::randn({NH, 4 * DH, DH}, opts);
  in.bias = torch::randn({4 * H}, opts);
  if (zero_state) {
    in.state0 = torch::zeros({4, B, H}, opts);
  } else {
    in.state0 = torch::stack({torch::randn({B, H}, opts), torch::randn({B, H}, opts),
                              torch::rand({B, H}, opts) + 0.5, torch::randn({B, H}, opts)});
  }
  return in;
}

RecurrenceOptions options_for(int64_t NH) {
  RecurrenceOptions o;
  o.num_heads = static_cast<int>(NH);
  return o;
}

/// The official vanilla recurrence written op by op, head by head; autograd differentiates it.
/// `recurrent_grad_hook` (if set) acts on the gradient of y_{t-1} through R (t >= 1); with `cut`
/// the recurrent input is detached.
std::tuple<torch::Tensor, torch::Tensor> reference(
    const Inputs& in, bool cut = false, std::optional<double> recurrent_clip = std::nullopt,
    std::optional<double> forward_clip = std::nullopt) {
  const int64_t S = in.wx.size(0), NH = in.R.size(0), DH = in.R.size(2), H = NH * DH;
  torch::Tensor y = in.state0[0], c = in.state0[1], n = in.state0[2], m = in.state0[3];
  std::vector<torch::Tensor> ys;
  for (int64_t t = 0; t < S; ++t) {
    torch::Tensor y_in = cut ? y.detach() : y;
    if (recurrent_clip && t > 0 && y_in.requires_grad()) {
      y_in = y_in * 1.0;
      const double v = *recurrent_clip;
      y_in.register_hook([v](torch::Tensor g) { return g.clamp(-v, v); });
    }
    // Ry[:, g*H + h*DH + o] = sum_i R[h, g*DH + o, i] y[:, h*DH + i]
    std::vector<torch::Tensor> per_gate(4);
    for (int64_t g = 0; g < 4; ++g) {
      std::vector<torch::Tensor> heads;
      for (int64_t h = 0; h < NH; ++h) {
        const torch::Tensor R_hg = in.R[h].slice(0, g * DH, (g + 1) * DH);  // [DH_out, DH_in]
        heads.push_back(torch::matmul(y_in.slice(1, h * DH, (h + 1) * DH), R_hg.t()));
      }
      per_gate[g] = torch::cat(heads, 1);
    }
    const torch::Tensor raw = in.wx[t] + torch::cat(per_gate, 1) + in.bias;
    const torch::Tensor i_raw = raw.slice(1, 0, H), f_raw = raw.slice(1, H, 2 * H);
    const torch::Tensor z_raw = raw.slice(1, 2 * H, 3 * H), o_raw = raw.slice(1, 3 * H, 4 * H);
    const torch::Tensor log_f_plus_m = m + torch::log_sigmoid(f_raw);
    const torch::Tensor m_new =
        (n == 0).all().item<bool>() ? i_raw : torch::maximum(i_raw, log_f_plus_m);
    const torch::Tensor ones = torch::ones_like(i_raw);
    const torch::Tensor i_gate = torch::minimum(torch::exp(i_raw - m_new), ones);
    const torch::Tensor f_gate = torch::minimum(torch::exp(log_f_plus_m - m_new), ones);
    c = f_gate * c + i_gate * torch::tanh(z_raw);
    n = f_gate * n + i_gate;
    y = torch::sigmoid(o_raw) * c / n;
    if (forward_clip) y = y.clamp(-*forward_clip, *forward_clip);
    m = m_new;
    ys.push_back(y);
  }
  return {torch::stack(ys), torch::stack({y, c, n, m})};
}

using RecurrenceFn = std::function<std::tuple<torch::Tensor, torch::Tensor>(const Inputs&)>;

/// Loss probing both outputs, and its gradients for (wx, state0, R, bias).
std::vector<torch::Tensor> gradients(const RecurrenceFn& f, const Inputs& in,
                                     const torch::Tensor& probe_y,
                                     const torch::Tensor& probe_final) {
  auto loss = [&](const std::vector<torch::Tensor>& t) {
    auto [y, final] = f({t[0], t[1], t[2], t[3]});
    return (y * probe_y).sum() + (final * probe_final).sum();
  };
  return test::analytic_gradients(loss, {in.wx, in.state0, in.R, in.bias});
}

void expect_matches_reference(int64_t S, int64_t B, int64_t NH, int64_t DH, bool zero_state,
                              RecurrenceOptions options = {}) {
  SCOPED_TRACE(::testing::Message() << "S=" << S << " B=" << B << " NH=" << NH << " DH=" << DH
                                    << " zero_state=" << zero_state);
  options.num_heads = static_cast<int>(NH);
  const Inputs in = make_inputs(S, B, NH, DH, zero_state);
  const RecurrenceFn ours = [&](const Inputs& i) {
    return recurrence_vanilla(i.wx, i.state0, i.R, i.bias, options);
  };
  const RecurrenceFn ref = [&](const Inputs& i) {
    return reference(i, options.gradient_recurrent_cut, options.gradient_recurrent_clipval,
                     options.forward_clipval);
  };
  auto [y, final] = ours(in);
  auto [y_ref, final_ref] = ref(in);
  EXPECT_LT(max_rel_diff(y, y_ref), 1e-12);
  EXPECT_LT(max_rel_diff(final, final_ref), 1e-12);

  const torch::Tensor probe_y = torch::randn_like(y), probe_final = torch::randn_like(final);
  const auto g = gradients(ours, in, probe_y, probe_final);
  const auto g_ref = gradients(ref, in, probe_y, probe_final);
  const char* names[] = {"wx", "state0", "recurrent_kernel", "bias"};
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_LT(max_rel_diff(g[k], g_ref[k]), 1e-10) << "gradient of " << names[k];
  }
}

TEST(sLSTMRecurrence, MatchesReferenceForwardStateAndGradients) {
  torch::manual_seed(0);
  for (bool zero_state : {false, true}) {
    expect_matches_reference(1, 1, 1, 3, zero_state);
    expect_matches_reference(37, 1, 1, 4, zero_state);
    expect_matches_reference(37, 3, 4, 2, zero_state);
    expect_matches_reference(1, 2, 4, 3, zero_state);
    expect_matches_reference(37, 2, 4, 8, zero_state);
  }
}

TEST(sLSTMRecurrence, MatchesReferenceWithRecurrentCutAndClipping) {
  torch::manual_seed(1);
  RecurrenceOptions cut;
  cut.gradient_recurrent_cut = true;
  expect_matches_reference(17, 2, 4, 3, false, cut);
  expect_matches_reference(17, 2, 4, 3, true, cut);
  RecurrenceOptions clip;
  clip.gradient_recurrent_clipval = 0.05;
  expect_matches_reference(17, 2, 4, 3, false, clip);
  RecurrenceOptions forward_clip;
  forward_clip.forward_clipval = 0.2;
  expect_matches_reference(17, 2, 4, 3, false, forward_clip);
}

TEST(sLSTMRecurrence, RecurrentCutAndClipChangeTheGradient) {
  torch::manual_seed(2);
  const Inputs in = make_inputs(9, 2, 2, 3, false, 1.0);
  const torch::Tensor probe = torch::randn({9, 2, 6}, torch::kFloat64);
  auto d_wx = [&](RecurrenceOptions o) {
    o.num_heads = 2;
    const RecurrenceFn f = [&](const Inputs& i) {
      return recurrence_vanilla(i.wx, i.state0, i.R, i.bias, o);
    };
    return gradients(f, in, probe, torch::zeros({4, 2, 6}, torch::kFloat64));
  };
  RecurrenceOptions plain, cut, clip;
  cut.gradient_recurrent_cut = true;
  clip.gradient_recurrent_clipval = 1e-3;
  const auto g_plain = d_wx(plain), g_cut = d_wx(cut), g_clip = d_wx(clip);
  // The last step's gradient never passes through the recurrence; earlier ones do.
  EXPECT_LT(max_abs_diff(g_cut[0][8], g_plain[0][8]), 1e-14);
  EXPECT_GT(max_abs_diff(g_cut[0][0], g_plain[0][0]), 1e-3);
  EXPECT_GT(max_abs_diff(g_clip[0][0], g_plain[0][0]), 1e-3);
  EXPECT_EQ(g_cut[1][0].abs().max().item<double>(), 0.0);  // no gradient into y_0 through R
}

TEST(sLSTMRecurrence, HandWrittenBackwardMatchesFiniteDifferences) {
  torch::manual_seed(3);
  for (bool zero_state : {false, true}) {
    const Inputs in = make_inputs(5, 2, 2, 2, zero_state);
    const torch::Tensor probe_y = torch::randn({5, 2, 4}, torch::kFloat64);
    const torch::Tensor probe_final = torch::randn({4, 2, 4}, torch::kFloat64);
    auto loss = [&](const std::vector<torch::Tensor>& t) {
      auto [y, final] = recurrence_vanilla(t[0], t[1], t[2], t[3], options_for(2));
      return (y * probe_y).sum() + (final * probe_final).sum();
    };
    const std::vector<torch::Tensor> inputs = {in.wx, in.state0, in.R, in.bias};
    const auto analytic = test::analytic_gradients(loss, inputs);
    // Perturbing a zero normaliser leaves the first-step case: state0 is checked only when n > 0.
    for (size_t k = 0; k < 4; ++k) {
      if (zero_state && k == 1) continue;
      const torch::Tensor numeric = test::numerical_gradient(loss, inputs, k);
      EXPECT_LT(max_abs_diff(analytic[k], numeric), 1e-6) << "input " << k;
    }
  }
}

TEST(sLSTMRecurrence, FirstStepQuirkSetsStabiliserToInputGate) {
  // From n = 0 everywhere: m_1 = i~, igate = 1, so n_1 = 1, c_1 = tanh(z~), y_1 = sigmoid(o~) c_1.
  const int64_t H = 3;
  torch::Tensor wx = torch::tensor({0.3, -1.2, 2.0, 4.0, -3.0, 1.0, 0.5, -0.5, 1.5, 1.0, -2.0, 0.2},
                                   torch::kFloat64)
                         .view({1, 1, 4 * H});
  torch::Tensor state0 = torch::zeros({4, 1, H}, torch::kFloat64);
  state0[3].fill_(-7.0);  // ignored when n == 0 (the forget contribution hits c = n = 0)
  const torch::Tensor R = torch::zeros({1, 4 * H, H}, torch::kFloat64);
  const torch::Tensor bias = torch::zeros({4 * H}, torch::kFloat64);
  auto [y, final] = recurrence_vanilla(wx, state0, R, bias, options_for(1));
  const torch::Tensor i_raw = wx[0][0].slice(0, 0, H), z_raw = wx[0][0].slice(0, 2 * H, 3 * H);
  const torch::Tensor o_raw = wx[0][0].slice(0, 3 * H, 4 * H);
  EXPECT_LT(max_abs_diff(final[3][0], i_raw), 1e-15);
  EXPECT_LT(max_abs_diff(final[2][0], torch::ones({H}, torch::kFloat64)), 1e-15);
  EXPECT_LT(max_abs_diff(final[1][0], torch::tanh(z_raw)), 1e-15);
  EXPECT_LT(max_abs_diff(y[0][0], torch::sigmoid(o_raw) * torch::tanh(z_raw)), 1e-15);

  // The official check is over the whole tensor: one batch entry with n != 0 disables it for all,
  // so the entry with n = 0 gets m = max(i~, log f + m_0) = log sigmoid(f~) + 10 here.
  torch::Tensor wx2 = torch::cat({wx, wx}, 1);
  torch::Tensor state2 = torch::zeros({4, 2, H}, torch::kFloat64);
  state2[3].fill_(10.0);
  state2[2][1].fill_(1.0);
  auto [y2, final2] = recurrence_vanilla(wx2, state2, R, bias, options_for(1));
  const torch::Tensor f_raw = wx[0][0].slice(0, H, 2 * H);
  EXPECT_LT(max_abs_diff(final2[3][0], torch::log_sigmoid(f_raw) + 10.0), 1e-12);
}

TEST(sLSTMRecurrence, PiecesWithCarriedStateEqualOnePiece) {
  torch::manual_seed(4);
  const Inputs in = make_inputs(20, 3, 4, 4, true);
  auto [y, final] = recurrence_vanilla(in.wx, in.state0, in.R, in.bias, options_for(4));
  auto [y1, state1] =
      recurrence_vanilla(in.wx.slice(0, 0, 7), in.state0, in.R, in.bias, options_for(4));
  auto [y2, state2] = recurrence_vanilla(in.wx.slice(0, 7), state1, in.R, in.bias, options_for(4));
  EXPECT_LT(max_abs_diff(torch::cat({y1, y2}), y), 1e-14);
  EXPECT_LT(max_abs_diff(state2, final), 1e-14);

  // One step at a time.
  torch::Tensor state = in.state0;
  std::vector<torch::Tensor> ys;
  for (int64_t t = 0; t < 20; ++t) {
    auto [y_t, s] =
        recurrence_vanilla(in.wx.slice(0, t, t + 1), state, in.R, in.bias, options_for(4));
    ys.push_back(y_t);
    state = s;
  }
  EXPECT_LT(max_abs_diff(torch::cat(ys), y), 1e-14);
  EXPECT_LT(max_abs_diff(state, final), 1e-14);
}

// S = 4096 with pre-activations up to +-50: float32 outputs, final state and gradients against
// the same recurrence in float64.
TEST(sLSTMRecurrence, LongSequencesWithLargePreactivationsMatchFloat64) {
  torch::manual_seed(5);
  for (bool zero_state : {true, false}) {
    SCOPED_TRACE(zero_state ? "zero state" : "random state");
    Inputs in = make_inputs(4096, 2, 2, 4, zero_state, 1.0, torch::kFloat32);
    in.wx = (in.wx * 25).clamp(-50, 50);
    const auto run = [&](torch::ScalarType dtype) {
      const auto wx = in.wx.detach().to(dtype).requires_grad_(true);
      const auto R = in.R.detach().to(dtype).requires_grad_(true);
      auto [y, final] =
          recurrence_vanilla(wx, in.state0.to(dtype), R, in.bias.to(dtype), options_for(2));
      (y.sum() + final.slice(0, 0, 3).sum()).backward();
      return std::vector<torch::Tensor>{y.detach(), final.detach(), wx.grad(), R.grad()};
    };
    const auto ours = run(torch::kFloat32), exact = run(torch::kFloat64);
    const char* names[] = {"y", "final state", "dwx", "dR"};
    for (size_t i = 0; i < ours.size(); ++i)
      EXPECT_TRUE(test::close_at_precision(ours[i], exact[i], torch::kFloat32, 64)) << names[i];
  }
}

TEST(sLSTMRecurrence, HalfTypesCloseToFloat32) {
  torch::manual_seed(6);
  const Inputs in = make_inputs(30, 2, 4, 8, true, 1.0, torch::kFloat32);
  auto [y, final] = recurrence_vanilla(in.wx, in.state0, in.R, in.bias, options_for(4));
  for (auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    auto [y_h, final_h] = recurrence_vanilla(in.wx.to(dtype), in.state0.to(dtype), in.R.to(dtype),
                                             in.bias, options_for(4));
    EXPECT_EQ(y_h.scalar_type(), dtype);
    EXPECT_TRUE(test::close_at_precision(y_h, y, dtype, 4));
  }
}

TEST(sLSTMRecurrence, AtenPathEqualsCpuLoops) {
  torch::manual_seed(7);
  RecurrenceOptions options = options_for(4);
  options.gradient_recurrent_clipval = 0.3;
  options.forward_clipval = 0.4;
  for (bool zero_state : {false, true}) {
    const Inputs in = make_inputs(13, 3, 4, 3, zero_state);
    const bool quirk = zero_state;
    const auto cpu =
        detail::recurrence_forward_cpu(in.wx, in.state0, in.R, in.bias, options, quirk, true);
    const auto aten =
        detail::recurrence_forward_aten(in.wx, in.state0, in.R, in.bias, options, quirk, true);
    for (auto [a, b] : {std::pair{cpu.y, aten.y},
                        {cpu.c, aten.c},
                        {cpu.n, aten.n},
                        {cpu.m, aten.m},
                        {cpu.raw, aten.raw}})
      EXPECT_LT(max_rel_diff(a, b), 1e-13);
    const torch::Tensor grad_y = torch::randn_like(cpu.y),
                        grad_final = torch::randn_like(in.state0);
    for (bool cut : {false, true}) {
      options.gradient_recurrent_cut = cut;
      const auto g_cpu =
          detail::recurrence_backward_cpu(cpu, in.state0, in.R, grad_y, grad_final, options, quirk);
      const auto g_aten = detail::recurrence_backward_aten(cpu, in.state0, in.R, grad_y, grad_final,
                                                           options, quirk);
      EXPECT_LT(max_rel_diff(g_cpu.d_wx, g_aten.d_wx), 1e-12);
      EXPECT_LT(max_rel_diff(g_cpu.d_state0, g_aten.d_state0), 1e-12);
    }
  }
}

TEST(sLSTMRecurrence, CudaTensorsMatchCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(8);
  const Inputs in = make_inputs(21, 3, 4, 8, true, 1.0, torch::kFloat32);
  std::vector<torch::Tensor> cpu = {in.wx, in.state0, in.R, in.bias};
  std::vector<torch::Tensor> gpu;
  for (const auto& t : cpu) gpu.push_back(t.to(torch::kCUDA));
  const torch::Tensor probe = torch::randn({21, 3, 32});
  auto loss = [&](const std::vector<torch::Tensor>& t) {
    auto [y, final] = recurrence_vanilla(t[0], t[1], t[2], t[3], options_for(4));
    return (y * probe.to(y.device())).sum() + final.sum();
  };
  const auto g_cpu = test::analytic_gradients(loss, cpu);
  const auto g_gpu = test::analytic_gradients(loss, gpu);
  for (size_t k = 0; k < 4; ++k) EXPECT_LT(max_rel_diff(g_gpu[k].cpu(), g_cpu[k]), 1e-4) << k;
}

TEST(sLSTMRecurrence, RejectsBadShapes) {
  const Inputs in = make_inputs(3, 2, 2, 2, true);
  EXPECT_THROW(recurrence_vanilla(in.wx, in.state0, in.R, in.bias, options_for(4)), c10::Error);
  EXPECT_THROW(recurrence_vanilla(in.wx.slice(2, 0, 8), in.state0, in.R, in.bias, options_for(2)),
               c10::Error);
  EXPECT_THROW(recurrence_vanilla(in.wx, in.state0.slice(1, 0, 1), in.R, in.bias, options_for(2)),
               c10::Error);
}

}  // namespace
}  // namespace xlstm::ops::slstm
