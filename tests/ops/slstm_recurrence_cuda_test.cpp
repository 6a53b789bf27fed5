// The cuda sLSTM recurrence against an op-by-op float64 reference on the same GPU: hidden states,
// final state and the gradients of wx, state0, R and b, for several head counts / head dims /
// batch and sequence sizes, the three dtypes and the clip / cut options.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <optional>

#include "support/environment.h"
#include "xlstm/ops/slstm_recurrence.h"

#ifdef XLSTM_WITH_CUDA

namespace {

using torch::Tensor;
using xlstm::ops::slstm::RecurrenceOptions;

struct Case {
  int heads, head_dim, batch, steps;
  torch::ScalarType dtype = torch::kFloat32;
  bool random_state = false;
};

struct Inputs {
  Tensor wx, state0, r, bias;
};

Inputs make_inputs(const Case& c) {
  const auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat64);
  const int64_t H = c.heads * c.head_dim;
  Inputs in;
  in.wx = torch::randn({c.steps, c.batch, 4 * H}, opt);
  in.r = torch::randn({c.heads, 4 * c.head_dim, c.head_dim}, opt) / std::sqrt(c.head_dim);
  in.bias = 0.5 * torch::randn({4 * H}, opt);
  in.state0 = torch::zeros({4, c.batch, H}, opt);
  if (c.random_state) {
    in.state0[0] = torch::tanh(torch::randn({c.batch, H}, opt));
    in.state0[1] = torch::randn({c.batch, H}, opt);
    in.state0[2] = torch::rand({c.batch, H}, opt) + 0.5;
    in.state0[3] = torch::randn({c.batch, H}, opt);
  }
  // Round to the tested dtype once, so that both sides see the same numbers.
  for (Tensor* t : {&in.wx, &in.r, &in.bias, &in.state0}) *t = t->to(c.dtype).to(torch::kFloat64);
  return in;
}

// y with the official kernel's forward clip: the value is clipped, the backward uses the clipped
// y where the official formulas read it (dn and do) and o/n for dc.
Tensor clipped_output(const Tensor& o, const Tensor& c, const Tensor& n, double v) {
  const Tensor yc = (o * c / n).clamp(-v, v).detach();
  return yc + (c - c.detach()) * (o / n).detach() + (o - o.detach()) * (yc / o).detach() -
         (n - n.detach()) * (yc / n).detach();
}

// Op-by-op float64 recurrence; the stabiliser m is a constant for the gradient (as in the kernel).
std::tuple<Tensor, Tensor> reference(const Inputs& in, const RecurrenceOptions& opt) {
  const int64_t S = in.wx.size(0), B = in.wx.size(1), NH = in.r.size(0), DH = in.r.size(2);
  const int64_t H = NH * DH;
  Tensor y = in.state0[0], c = in.state0[1], n = in.state0[2], m = in.state0[3].detach();
  const bool zero_start = n.eq(0).all().item<bool>();
  std::vector<Tensor> ys;
  for (int64_t t = 0; t < S; ++t) {
    Tensor y_rec = y;
    if (opt.gradient_recurrent_cut) {
      y_rec = y.detach();
    } else if (opt.gradient_recurrent_clipval && t > 0) {
      const double v = *opt.gradient_recurrent_clipval;
      y_rec = y.clone();
      y_rec.register_hook([v](Tensor g) { return g.clamp(-v, v); });
    }
    const Tensor ry = torch::einsum("hrd,bhd->bhr", {in.r, y_rec.view({B, NH, DH})})
                          .view({B, NH, 4, DH})
                          .permute({0, 2, 1, 3})
                          .reshape({B, 4 * H});
    const auto g = (in.wx[t] + ry + in.bias).view({B, 4, H}).unbind(1);
    const Tensor logf = m + torch::log_sigmoid(g[1]);
    const Tensor m_new = (t == 0 && zero_start ? g[0] : torch::max(g[0], logf)).detach();
    const Tensor ig = torch::exp(g[0] - m_new).clamp_max(1.0);
    const Tensor fg = torch::exp(logf - m_new).clamp_max(1.0);
    const Tensor o = torch::sigmoid(g[3]);
    c = fg * c + ig * torch::tanh(g[2]);
    n = fg * n + ig;
    y = opt.forward_clipval ? clipped_output(o, c, n, *opt.forward_clipval) : o * c / n;
    m = m_new;
    ys.push_back(y);
  }
  return {torch::stack(ys), torch::stack({y, c, n, m})};
}

double rel_err(const Tensor& a, const Tensor& ref) {
  const double scale = ref.abs().max().item<double>();
  const double diff = (a.to(torch::kFloat64) - ref).abs().max().item<double>();
  return scale > 0 ? diff / scale : diff;
}

struct Grads {
  Tensor y, final_state, dwx, dstate0, dr, db;
};

// Runs `fn` on copies of the inputs in `dtype` and backpropagates a fixed random projection of y
// and of the final state.
template <typename Fn>
Grads run(const Inputs& in, torch::ScalarType dtype, const Tensor& wy, const Tensor& wf, Fn fn) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : {in.wx, in.state0, in.r, in.bias})
    leaves.push_back(t.to(dtype).detach().requires_grad_(true));
  auto [y, final_state] = fn(leaves[0], leaves[1], leaves[2], leaves[3]);
  const Tensor loss =
      (y.to(torch::kFloat64) * wy).sum() + (final_state.to(torch::kFloat64) * wf).sum();
  loss.backward();
  return {y.detach(),       final_state.detach(), leaves[0].grad(),
          leaves[1].grad(), leaves[2].grad(),     leaves[3].grad()};
}

void expect_matches(const Case& c, const RecurrenceOptions& opt, double tol) {
  torch::manual_seed(1234 + c.heads * 7 + c.head_dim + c.batch * 3 + c.steps);
  const Inputs in = make_inputs(c);
  const int64_t H = c.heads * c.head_dim;
  const auto f64 = in.wx.options();
  const Tensor wy = torch::randn({c.steps, c.batch, H}, f64);
  const Tensor wf = torch::randn({4, c.batch, H}, f64);
  const Grads ours = run(in, c.dtype, wy, wf,
                         [&](auto... t) { return xlstm::ops::slstm::recurrence_cuda(t..., opt); });
  const Grads ref = run(in, torch::kFloat64, wy, wf, [&](auto wx, auto s0, auto r, auto b) {
    return reference({wx, s0, r, b}, opt);
  });
  EXPECT_EQ(ours.y.scalar_type(), c.dtype);
  EXPECT_LE(rel_err(ours.y, ref.y), tol) << "y";
  EXPECT_LE(rel_err(ours.final_state, ref.final_state), tol) << "final state";
  EXPECT_LE(rel_err(ours.dwx, ref.dwx), tol) << "d wx";
  EXPECT_LE(rel_err(ours.dstate0.narrow(0, 0, 3), ref.dstate0.narrow(0, 0, 3)), tol) << "d state0";
  EXPECT_EQ(ours.dstate0[3].abs().max().item<double>(), 0.0) << "d m0 (m is a stabiliser)";
  EXPECT_LE(rel_err(ours.dr, ref.dr), tol) << "d R";
  EXPECT_LE(rel_err(ours.db, ref.db), tol) << "d b";
}

#define SKIP_WITHOUT_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

RecurrenceOptions options_for(int n) {
  RecurrenceOptions o;
  o.num_heads = n;
  return o;
}

TEST(SlstmCudaRecurrence, Float32MatchesReferenceOverShapes) {
  SKIP_WITHOUT_GPU();
  for (const Case& c : {Case{1, 16, 1, 5}, Case{2, 32, 3, 33, torch::kFloat32, true},
                        Case{3, 64, 5, 17}, Case{4, 192, 16, 24, torch::kFloat32, true},
                        Case{1, 512, 2, 6, torch::kFloat32, true}, Case{8, 64, 37, 3}}) {
    SCOPED_TRACE(testing::Message() << "NH " << c.heads << " DH " << c.head_dim << " B " << c.batch
                                    << " S " << c.steps);
    expect_matches(c, options_for(c.heads), 1e-4);
  }
}

// The same shapes with the exchange through thread-block clusters (sm_90; elsewhere this repeats
// the global exchange).
TEST(SlstmCudaRecurrence, Float32ClusterExchangeMatchesReference) {
  SKIP_WITHOUT_GPU();
  setenv("XLSTM_SLSTM_CUDA_EXCHANGE", "cluster", 1);
  for (const Case& c : {Case{2, 32, 3, 33, torch::kFloat32, true}, Case{4, 192, 16, 24},
                        Case{8, 64, 37, 3, torch::kFloat32, true}}) {
    SCOPED_TRACE(testing::Message() << "NH " << c.heads << " DH " << c.head_dim);
    expect_matches(c, options_for(c.heads), 1e-4);
  }
  RecurrenceOptions cut = options_for(2);
  cut.gradient_recurrent_cut = true;
  expect_matches(Case{2, 32, 3, 12, torch::kFloat32, true}, cut, 1e-4);
  unsetenv("XLSTM_SLSTM_CUDA_EXCHANGE");
}

TEST(SlstmCudaRecurrence, Float32LongSequence) {
  SKIP_WITHOUT_GPU();
  expect_matches(Case{2, 32, 2, 4096, torch::kFloat32, true}, options_for(2), 1e-4);
}

TEST(SlstmCudaRecurrence, SingleStep) {
  SKIP_WITHOUT_GPU();
  expect_matches(Case{4, 64, 3, 1, torch::kFloat32, true}, options_for(4), 1e-4);
  expect_matches(Case{2, 32, 1, 1}, options_for(2), 1e-4);
}

// bf16 / fp16, with the recurrent products on the tensor cores (default) and on float32 FMA.
// head_dim 20 runs the forward on FMA (tensor cores need a multiple of 16) and the backward on
// the tensor cores (any multiple of 4); batch 37 ends with a partial batch tile.
TEST(SlstmCudaRecurrence, HalfPrecisionsMatchReference) {
  SKIP_WITHOUT_GPU();
  for (const char* tensor_cores : {"1", "0"}) {
    setenv("XLSTM_SLSTM_CUDA_TENSOR_CORES", tensor_cores, 1);
    for (torch::ScalarType dtype : {torch::kBFloat16, torch::kFloat16})
      for (const Case& c : {Case{4, 64, 3, 40, dtype, true}, Case{2, 192, 16, 20, dtype},
                            Case{4, 192, 16, 64, dtype, true}, Case{1, 512, 5, 9, dtype},
                            Case{2, 32, 1, 7, dtype}, Case{3, 20, 4, 11, dtype, true},
                            Case{8, 64, 37, 5, dtype}, Case{2, 48, 3, 1, dtype, true}}) {
        SCOPED_TRACE(testing::Message()
                     << dtype << " NH " << c.heads << " DH " << c.head_dim << " B " << c.batch
                     << " S " << c.steps << " tensor cores " << tensor_cores);
        expect_matches(c, options_for(c.heads), 2e-2);
      }
  }
  unsetenv("XLSTM_SLSTM_CUDA_TENSOR_CORES");
}

TEST(SlstmCudaRecurrence, HalfPrecisionLongSequence) {
  SKIP_WITHOUT_GPU();
  expect_matches(Case{2, 64, 3, 4096, torch::kBFloat16, true}, options_for(2), 2e-2);
}

// gradient_recurrent_cut, gradient_recurrent_clipval and forward_clipval, on the float32 FMA
// kernels and (bf16) the tensor-core ones.
void expect_gradient_options_match(torch::ScalarType dtype, double tol) {
  const Case c{2, 32, 3, 12, dtype, true};
  RecurrenceOptions cut = options_for(2);
  cut.gradient_recurrent_cut = true;
  expect_matches(c, cut, tol);
  RecurrenceOptions clip = options_for(2);
  clip.gradient_recurrent_clipval = 0.02;
  expect_matches(c, clip, tol);
  RecurrenceOptions forward_clip = options_for(2);
  forward_clip.forward_clipval = 0.2;
  expect_matches(c, forward_clip, tol);
}

TEST(SlstmCudaRecurrence, GradientOptions) {
  SKIP_WITHOUT_GPU();
  expect_gradient_options_match(torch::kFloat32, 1e-4);
}

TEST(SlstmCudaRecurrence, HalfPrecisionGradientOptions) {
  SKIP_WITHOUT_GPU();
  expect_gradient_options_match(torch::kBFloat16, 2e-2);
}

// Against our vanilla backend on the same GPU, for a loss on y (the hidden states feed everything
// downstream, including the next chunk through the carried state). Per step the gate gradients are
// then the same in both (the stabiliser m cancels in y), so the clipped recurrent gradient is too;
// only d m0 differs: vanilla backpropagates through m like autograd, the kernels (like the official
// ones) treat m as a constant.
TEST(SlstmCudaRecurrence, MatchesVanillaBackendOnHiddenStates) {
  SKIP_WITHOUT_GPU();
  const Case c{3, 32, 5, 20, torch::kFloat32, true};
  torch::manual_seed(11);
  const Inputs in = make_inputs(c);
  const auto f64 = in.wx.options();
  const Tensor wy = torch::randn({c.steps, c.batch, c.heads * c.head_dim}, f64);
  const Tensor wf = torch::zeros({4, c.batch, c.heads * c.head_dim}, f64);
  for (bool clip : {false, true}) {
    SCOPED_TRACE(clip ? "gradient_recurrent_clipval 0.05" : "no clip");
    RecurrenceOptions opt = options_for(c.heads);
    if (clip) opt.gradient_recurrent_clipval = 0.05;
    const Grads ours = run(in, torch::kFloat32, wy, wf, [&](auto... t) {
      return xlstm::ops::slstm::recurrence_cuda(t..., opt);
    });
    const Grads vanilla = run(in, torch::kFloat32, wy, wf, [&](auto... t) {
      return xlstm::ops::slstm::recurrence_vanilla(t..., opt);
    });
    const auto f = [](const Tensor& t) { return t.to(torch::kFloat64); };
    EXPECT_LE(rel_err(ours.y, f(vanilla.y)), 1e-4) << "y";
    EXPECT_LE(rel_err(ours.final_state, f(vanilla.final_state)), 1e-4) << "final state";
    EXPECT_LE(rel_err(ours.dwx, f(vanilla.dwx)), 1e-4) << "d wx";
    EXPECT_LE(rel_err(ours.dstate0.narrow(0, 0, 3), f(vanilla.dstate0.narrow(0, 0, 3))), 1e-4)
        << "d state0 (y, c, n)";
    EXPECT_LE(rel_err(ours.dr, f(vanilla.dr)), 1e-4) << "d R";
    EXPECT_LE(rel_err(ours.db, f(vanilla.db)), 1e-4) << "d b";
  }
}

TEST(SlstmCudaRecurrence, StepsChainLikeTheSequence) {
  SKIP_WITHOUT_GPU();
  torch::manual_seed(7);
  const Inputs in = make_inputs(Case{2, 48, 3, 6, torch::kFloat32, false});
  torch::NoGradGuard no_grad;
  const auto f32 = [](const Tensor& t) { return t.to(torch::kFloat32); };
  auto [y_seq, final_seq] = xlstm::ops::slstm::recurrence_cuda(
      f32(in.wx), f32(in.state0), f32(in.r), f32(in.bias), options_for(2));
  Tensor state = f32(in.state0);
  for (int64_t t = 0; t < 6; ++t) {
    auto [y, next] = xlstm::ops::slstm::recurrence_cuda(f32(in.wx.narrow(0, t, 1)), state,
                                                        f32(in.r), f32(in.bias), options_for(2));
    EXPECT_LE(rel_err(y[0], y_seq[t].to(torch::kFloat64)), 1e-6) << "step " << t;
    state = next;
  }
  EXPECT_LE(rel_err(state, final_seq.to(torch::kFloat64)), 1e-6);
}

// Inference and training run the same kernel (training also saves the states) when inference
// exchanges through global memory as training does (XLSTM_SLSTM_CUDA_EXCHANGE=global).
TEST(SlstmCudaRecurrence, InferenceEqualsTraining) {
  SKIP_WITHOUT_GPU();
  torch::manual_seed(3);
  const Inputs in = make_inputs(Case{4, 64, 5, 30, torch::kFloat32, true});
  const auto bf = [](const Tensor& t) { return t.to(torch::kBFloat16); };
  const Tensor wx = bf(in.wx).requires_grad_(true);
  auto [y_train, s_train] =
      xlstm::ops::slstm::recurrence_cuda(wx, bf(in.state0), bf(in.r), bf(in.bias), options_for(4));
  torch::NoGradGuard no_grad;
  auto [y_inf, s_inf] =
      xlstm::test::with_environment("XLSTM_SLSTM_CUDA_EXCHANGE", "global", [&] {
        return xlstm::ops::slstm::recurrence_cuda(bf(in.wx), bf(in.state0), bf(in.r), bf(in.bias),
                                                  options_for(4));
      });
  EXPECT_TRUE(torch::equal(y_train, y_inf));
  EXPECT_TRUE(torch::equal(s_train, s_inf));
}

// By default the tensor-core forward of inference exchanges y_t through a thread-block cluster
// per group on sm_90: against the float64 reference (the half-precision tolerance of the other
// tests) and against the global exchange, which sums the k-parts of R y in another split (so y
// differs by roundings that the recurrence carries): batch tiles of 1 to 8 rows and two tiles,
// head dims 16 to 256 (clusters of 1 to 8 blocks), one step and long sequences, both 16-bit types.
TEST(SlstmCudaRecurrence, ClusterInferenceMatchesReferenceAndGlobalExchange) {
  SKIP_WITHOUT_GPU();
  torch::NoGradGuard no_grad;
  for (torch::ScalarType dtype : {torch::kBFloat16, torch::kFloat16})
    for (const Case& c : {Case{4, 192, 1, 300, dtype, true}, Case{2, 64, 5, 40, dtype},
                          Case{1, 16, 8, 33, dtype, true}, Case{3, 256, 11, 20, dtype},
                          Case{8, 48, 3, 1, dtype, true}, Case{2, 128, 2, 2048, dtype}}) {
      SCOPED_TRACE(testing::Message() << dtype << " NH " << c.heads << " DH " << c.head_dim
                                      << " B " << c.batch << " S " << c.steps);
      torch::manual_seed(c.head_dim + c.batch);
      const Inputs in = make_inputs(c);
      const auto run = [&] {
        const auto cast = [&](const Tensor& t) { return t.to(dtype); };
        return xlstm::ops::slstm::recurrence_cuda(cast(in.wx), cast(in.state0), cast(in.r),
                                                  cast(in.bias), options_for(c.heads));
      };
      const auto [y, state] = run();
      const auto [y_global, state_global] =
          xlstm::test::with_environment("XLSTM_SLSTM_CUDA_EXCHANGE", "global", run);
      const auto [y_ref, state_ref] = reference(in, options_for(c.heads));
      EXPECT_LE(rel_err(y, y_ref), 2e-2) << "y";
      EXPECT_LE(rel_err(state, state_ref), 2e-2) << "final state";
      EXPECT_LE(rel_err(y, y_global.to(torch::kFloat64)), 2e-2) << "y against the global exchange";
      EXPECT_LE(rel_err(state, state_global.to(torch::kFloat64)), 2e-2)
          << "final state against the global exchange";
    }
}

TEST(SlstmCudaRecurrence, RejectsUnsupportedInputs) {
  SKIP_WITHOUT_GPU();
  const auto gpu = torch::TensorOptions().device(torch::kCUDA);
  // head_dim 6 is not a multiple of 4
  EXPECT_THROW(xlstm::ops::slstm::recurrence_cuda(
                   torch::zeros({2, 1, 24}, gpu), torch::zeros({4, 1, 6}, gpu),
                   torch::zeros({1, 24, 6}, gpu), torch::zeros({24}, gpu), options_for(1)),
               c10::Error);
  EXPECT_THROW(xlstm::ops::slstm::recurrence_cuda(
                   torch::zeros({2, 1, 64}), torch::zeros({4, 1, 16}), torch::zeros({1, 64, 16}),
                   torch::zeros({64}), options_for(1)),
               c10::Error);
  EXPECT_THROW(
      xlstm::ops::slstm::recurrence_cuda(
          torch::zeros({2, 1, 64}, gpu.dtype(torch::kFloat64)), torch::zeros({4, 1, 16}, gpu),
          torch::zeros({1, 64, 16}, gpu), torch::zeros({64}, gpu), options_for(1)),
      c10::Error);
}

}  // namespace

#else

TEST(SlstmCudaRecurrence, NeedsACudaBuild) {
  GTEST_SKIP() << "built without CUDA (XLSTM_WITH_CUDA undefined): the cuda backend is absent";
}

#endif
