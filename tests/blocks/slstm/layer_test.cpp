// sLSTMLayer: parameter names, the official wiring, and the equality of its three calling paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "xlstm/blocks/slstm/layer.h"

namespace xlstm {
namespace {

using test::max_abs_diff;

sLSTMLayer make_layer(int kernel_size, uint64_t seed = 0) {
  torch::manual_seed(seed);
  sLSTMLayerConfig config;
  config.embedding_dim = 16;
  config.num_heads = 4;
  config.conv1d_kernel_size = kernel_size;
  config.backend = "vanilla";
  config.recurrent_weight_init = "standard";
  sLSTMLayer layer(config);
  layer->reset_parameters();
  torch::NoGradGuard no_grad;
  for (auto& p : layer->parameters())
    p.add_(0.1 * torch::randn_like(p));  // make every weight matter
  layer->eval();
  return layer;
}

TEST(sLSTMLayer, ParameterNamesMatchThePythonStateDict) {
  std::vector<std::string> names;
  for (const auto& item : make_layer(4)->named_parameters()) names.push_back(item.key());
  const std::vector<std::string> expected = {"conv1d.conv.weight",
                                             "conv1d.conv.bias",
                                             "fgate.weight",
                                             "igate.weight",
                                             "zgate.weight",
                                             "ogate.weight",
                                             "slstm_cell._recurrent_kernel_",
                                             "slstm_cell._bias_",
                                             "group_norm.weight"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(make_layer(0)->named_parameters().size(), expected.size() - 2);
}

TEST(sLSTMLayer, MirrorsTheOfficialWiring) {
  sLSTMLayer layer = make_layer(4);
  const torch::Tensor x = torch::randn({2, 7, 16});
  // conv + SiLU feed fgate and igate, the raw input zgate and ogate; the projections go to the
  // cell's slots (i, f, z, o) in the order (fgate, igate, zgate, ogate).
  const torch::Tensor x_conv = torch::silu(layer->conv1d(x));
  const torch::Tensor wx = torch::cat(
      {layer->fgate(x_conv), layer->igate(x_conv), layer->zgate(x), layer->ogate(x)}, -1);
  const torch::Tensor y = layer->slstm_cell(wx).first;  // [B, NH, S, DH]
  const torch::Tensor expected = layer->group_norm(y).transpose(1, 2).reshape({2, 7, 16});
  EXPECT_LT(max_abs_diff(layer(x), expected), 1e-6);
}

TEST(sLSTMLayer, PiecesAndStepsEqualTheWholeSequence) {
  for (int kernel_size : {0, 4}) {
    SCOPED_TRACE(kernel_size);
    sLSTMLayer layer = make_layer(kernel_size, 1);
    const torch::Tensor x = torch::randn({3, 11, 16});
    const torch::Tensor y = layer(x);
    auto [y_full, state_full] = layer->forward_with_state(x);
    EXPECT_EQ(max_abs_diff(y_full, y), 0.0);
    EXPECT_EQ(state_full.conv.defined(), kernel_size > 0);

    auto [y1, state1] = layer->forward_with_state(x.slice(1, 0, 5));
    auto [y2, state2] = layer->forward_with_state(x.slice(1, 5), state1);
    EXPECT_LT(max_abs_diff(torch::cat({y1, y2}, 1), y), 1e-5);

    sLSTMState state;
    std::vector<torch::Tensor> ys;
    for (int64_t t = 0; t < 11; ++t) {
      auto [y_t, s] = layer->step(x.slice(1, t, t + 1), state);
      ys.push_back(y_t);
      state = s;
    }
    EXPECT_LT(max_abs_diff(torch::cat(ys, 1), y), 1e-5);
    for (auto [a, b] : {std::pair{state.y, state_full.y},
                        {state.c, state_full.c},
                        {state.n, state_full.n},
                        {state.m, state_full.m}})
      EXPECT_LT(max_abs_diff(a, b), 1e-5);
    EXPECT_EQ(state.y.sizes(), torch::IntArrayRef({3, 16}));
    if (kernel_size > 0) {
      EXPECT_EQ(state.conv.sizes(), torch::IntArrayRef({3, 4, 16}));
      EXPECT_LT(max_abs_diff(state.conv, state_full.conv), 1e-6);
    }
  }
}

TEST(sLSTMLayer, FusedCpuStepEqualsAtenStep) {
  // Without autograd the CPU step takes one fused loop; with it, the ATen ops. Same results.
  for (int kernel_size : {0, 4}) {
    SCOPED_TRACE(kernel_size);
    sLSTMLayer layer = make_layer(kernel_size, 2);
    layer->to(torch::kFloat64);
    const torch::Tensor x = torch::randn({3, 9, 16}, torch::kFloat64);
    sLSTMState aten_state, fused_state;
    for (int64_t t = 0; t < x.size(1); ++t) {
      const torch::Tensor x_t = x.slice(1, t, t + 1);
      auto [aten_y, aten_next] = layer->step(x_t, aten_state);
      ASSERT_TRUE(aten_y.requires_grad());  // the ATen path ran
      torch::NoGradGuard no_grad;
      auto [fused_y, fused_next] = layer->step(x_t, fused_state);
      EXPECT_LT(max_abs_diff(fused_y, aten_y.detach()), 1e-12) << "t=" << t;
      aten_state = aten_next.detach();
      fused_state = fused_next;
    }
    for (auto [a, b] : {std::pair{fused_state.y, aten_state.y},
                        {fused_state.c, aten_state.c},
                        {fused_state.n, aten_state.n},
                        {fused_state.m, aten_state.m}})
      EXPECT_LT(max_abs_diff(a, b), 1e-12);
    EXPECT_EQ(fused_state.conv.defined(), kernel_size > 0);
    if (kernel_size > 0) EXPECT_TRUE(torch::equal(fused_state.conv, aten_state.conv));
  }
}

TEST(sLSTMLayer, StateToAndDetach) {
  sLSTMLayer layer = make_layer(4);
  layer->train();
  auto [y, state] = layer->forward_with_state(torch::randn({2, 3, 16}));
  EXPECT_TRUE(state.defined());
  EXPECT_TRUE(state.c.requires_grad());
  const sLSTMState detached = state.detach();
  EXPECT_FALSE(detached.c.requires_grad());
  const sLSTMState converted = state.to(torch::kCPU, torch::kFloat64);
  EXPECT_EQ(converted.m.scalar_type(), torch::kFloat64);
  EXPECT_EQ(converted.conv.scalar_type(), torch::kFloat64);
  EXPECT_FALSE(sLSTMState{}.defined());
  EXPECT_FALSE(sLSTMState{}.to(torch::kCPU).conv.defined());
}

// Every parameter's gradient (float64) against central differences along a random direction, and
// the input's gradient element by element.
TEST(sLSTMLayer, GradientsMatchFiniteDifferences) {
  sLSTMLayer layer = make_layer(4, 2);
  layer->to(torch::kFloat64);
  layer->train();
  const torch::Tensor x = torch::randn({2, 9, 16}, torch::kFloat64);
  EXPECT_TRUE(test::directional_gradcheck(*layer, [&] { return layer(x).pow(2).sum(); }));
  EXPECT_TRUE(test::gradcheck([&](const std::vector<torch::Tensor>& in) { return layer(in[0]); },
                              {x.narrow(0, 0, 1).narrow(1, 0, 5).clone()}));
}

TEST(sLSTMLayer, RejectsBadShapes) {
  sLSTMLayer layer = make_layer(4);
  EXPECT_THROW(layer(torch::randn({2, 3, 15})), c10::Error);
  EXPECT_THROW(layer->step(torch::randn({2, 3, 16})), c10::Error);
}

}  // namespace
}  // namespace xlstm
