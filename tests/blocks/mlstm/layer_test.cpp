#include "xlstm/blocks/mlstm/layer.h"

#include <cmath>

#include <gtest/gtest.h>

#include "xlstm/config/error.h"

#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm {
namespace {

using test::max_rel_diff;

mLSTMLayerConfig small_config(int context_length = 32) {
  mLSTMLayerConfig config;
  config.embedding_dim = 16;
  config.num_heads = 2;
  config.context_length = context_length;
  config.round_proj_up_to_multiple_of = 8;  // inner dim 32, head dim 16
  return config;
}

/// A layer whose zero-initialised weights are perturbed so that every parameter matters.
mLSTMLayer make_layer(const mLSTMLayerConfig& config, torch::ScalarType dtype = torch::kFloat32) {
  mLSTMLayer layer(config);
  torch::NoGradGuard no_grad;
  for (auto& p : layer->parameters()) p.add_(torch::randn_like(p), 0.1);
  layer->to(dtype);
  return layer;
}

TEST(mLSTMLayer, ParameterNamesFollowPython) {
  mLSTMLayer layer(small_config());
  std::vector<std::string> names;
  for (const auto& item : layer->named_parameters()) names.push_back(item.key());
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "learnable_skip", "proj_up.weight", "q_proj.weight", "k_proj.weight",
                "v_proj.weight", "conv1d.conv.weight", "conv1d.conv.bias",
                "mlstm_cell.igate.weight", "mlstm_cell.igate.bias", "mlstm_cell.fgate.weight",
                "mlstm_cell.fgate.bias", "mlstm_cell.outnorm.weight", "proj_down.weight"}));
  EXPECT_TRUE(layer->named_buffers().is_empty());
  EXPECT_EQ(layer->q_proj->weight.sizes(), (std::vector<int64_t>{8, 4, 4}));
  EXPECT_EQ(layer->proj_up->weight.sizes(), (std::vector<int64_t>{64, 16}));
}

TEST(mLSTMLayer, PassesTheBackendToItsCell) {
  mLSTMLayerConfig config = small_config();
  EXPECT_FALSE(mLSTMLayer(config)->mlstm_cell->config.backend.has_value());
  config.backend = "parallel";
  EXPECT_EQ(mLSTMLayer(config)->mlstm_cell->config.backend, "parallel");
  config.backend = "fastest";
  EXPECT_THROW(mLSTMLayer{config}, ConfigError);
}

TEST(mLSTMLayer, InitialisationAsPython) {
  torch::manual_seed(0);
  mLSTMLayerConfig config;
  config.embedding_dim = 256;
  config.context_length = 8;
  config._num_blocks = 2;
  mLSTMLayer layer(config);
  EXPECT_EQ(layer->config._inner_embedding_dim, 512);
  EXPECT_TRUE(torch::equal(layer->learnable_skip, torch::ones({512})));
  const double small = std::sqrt(2.0 / (5.0 * 256)), wang = 2.0 / 2.0 / 16.0;
  EXPECT_NEAR(layer->proj_up->weight.std().item<double>(), small, 0.02 * small);
  EXPECT_NEAR(layer->q_proj->weight.std().item<double>(), small, 0.05 * small);
  EXPECT_NEAR(layer->v_proj->weight.std().item<double>(), small, 0.05 * small);
  EXPECT_NEAR(layer->proj_down->weight.std().item<double>(), wang, 0.02 * wang);
  EXPECT_EQ(layer->mlstm_cell->fgate->bias[0].item<float>(), 3.0f);
  EXPECT_EQ(layer->mlstm_cell->fgate->bias[3].item<float>(), 6.0f);
}

TEST(mLSTMLayer, StatefulPathsAgree) {
  torch::manual_seed(1);
  auto layer = make_layer(small_config(), torch::kFloat64);
  layer->mlstm_cell->chunk_size = 8;
  const auto x = torch::randn({2, 29, 16}, torch::kFloat64);
  const auto parallel = layer(x);
  const auto [whole, whole_state] = layer->forward_with_state(x);
  EXPECT_EQ(whole_state.C.sizes(), (std::vector<int64_t>{2, 2, 16, 16}));
  EXPECT_EQ(whole_state.conv.sizes(), (std::vector<int64_t>{2, 4, 32}));
  EXPECT_LT(max_rel_diff(whole, parallel), 1e-5);  // zero state vs no history: eps terms only

  // Two pieces with the carried state equal one run.
  const auto [first, middle] = layer->forward_with_state(x.narrow(1, 0, 11));
  const auto [second, last] = layer->forward_with_state(x.narrow(1, 11, 18), middle);
  EXPECT_LT(max_rel_diff(torch::cat({first, second}, 1), whole), 1e-10);
  EXPECT_LT(max_rel_diff(last.C, whole_state.C), 1e-10);
  EXPECT_LT(max_rel_diff(last.conv, whole_state.conv), 1e-12);

  // The step loop equals the chunkwise run.
  mLSTMState state;
  std::vector<torch::Tensor> outputs;
  for (int64_t t = 0; t < 29; ++t) {
    auto [y, next] = layer->step(x.narrow(1, t, 1), state);
    outputs.push_back(y);
    state = next;
  }
  EXPECT_LT(max_rel_diff(torch::cat(outputs, 1), whole), 1e-10);
  EXPECT_LT(max_rel_diff(state.n, whole_state.n), 1e-10);
}

TEST(mLSTMLayer, FusedCpuStepEqualsAtenStep) {
  // Without autograd the CPU step takes one fused loop; with it, the ATen ops. Same results.
  torch::manual_seed(4);
  for (const bool with_bias : {false, true}) {
    auto config = small_config();
    config.bias = with_bias;
    auto layer = make_layer(config, torch::kFloat64);
    const auto x = torch::randn({3, 7, 16}, torch::kFloat64);
    mLSTMState aten_state, fused_state;
    for (int64_t t = 0; t < x.size(1); ++t) {
      const auto x_t = x.narrow(1, t, 1);
      auto [aten_y, aten_next] = layer->step(x_t, aten_state);
      ASSERT_TRUE(aten_y.requires_grad());  // the ATen path ran
      torch::NoGradGuard no_grad;
      auto [fused_y, fused_next] = layer->step(x_t, fused_state);
      EXPECT_LT(max_rel_diff(fused_y, aten_y.detach()), 1e-12) << "t=" << t;
      aten_state = aten_next.detach();
      fused_state = fused_next;
    }
    EXPECT_LT(max_rel_diff(fused_state.C, aten_state.C), 1e-12);
    EXPECT_LT(max_rel_diff(fused_state.n, aten_state.n), 1e-12);
    EXPECT_LT(max_rel_diff(fused_state.m, aten_state.m), 1e-12);
    EXPECT_TRUE(torch::equal(fused_state.conv, aten_state.conv));
  }
}

TEST(mLSTMLayer, BeyondContextLengthAndGradients) {
  torch::manual_seed(2);
  auto short_layer = make_layer(small_config(8));
  auto long_layer = make_layer(small_config(64));
  {
    torch::NoGradGuard no_grad;
    const auto src = short_layer->named_parameters();
    for (auto& item : long_layer->named_parameters()) item.value().copy_(src[item.key()]);
  }
  const auto x = torch::randn({3, 40, 16});
  const auto x_short = x.clone().requires_grad_(true), x_long = x.clone().requires_grad_(true);
  const auto y = short_layer(x_short);     // S = 40 > context_length 8: chunkwise
  const auto y_long = long_layer(x_long);  // parallel
  EXPECT_LT(max_rel_diff(y, y_long), 1e-5);
  // The chunkwise gradients equal the parallel ones, for the input and every parameter.
  y.square().sum().backward();
  y_long.square().sum().backward();
  EXPECT_LT(max_rel_diff(x_short.grad(), x_long.grad()), 1e-5);
  const auto long_parameters = long_layer->named_parameters();
  for (const auto& item : short_layer->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_LT(max_rel_diff(item.value().grad(), long_parameters[item.key()].grad()), 1e-5)
        << item.key();
  }
}

TEST(mLSTMLayer, GradcheckThroughTheCarriedState) {
  torch::manual_seed(4);
  mLSTMLayerConfig config;
  config.embedding_dim = 4;
  config.num_heads = 2;
  config.context_length = 8;
  config.round_proj_up_to_multiple_of = 4;  // inner dim 8, head dim 4
  auto layer = make_layer(config, torch::kFloat64);
  layer->mlstm_cell->chunk_size = 2;
  const auto x = torch::randn({1, 5, 4}, torch::kFloat64);
  EXPECT_TRUE(test::gradcheck(
      [&](const std::vector<torch::Tensor>& in) {
        const auto [first, state] = layer->forward_with_state(in[0].narrow(1, 0, 3));
        const auto [second, last] = layer->forward_with_state(in[0].narrow(1, 3, 2), state);
        return torch::cat({first.flatten(), second.flatten(), last.C.flatten()});
      },
      {x}));
}

TEST(mLSTMLayer, ReducedPrecisionCloseToFloat32) {
  torch::manual_seed(3);
  auto layer = make_layer(small_config());
  const auto x = torch::randn({2, 12, 16});
  const auto reference = layer(x);
  const auto [ref_stateful, ref_state] = layer->forward_with_state(x);
  for (auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    test::in_precision(*layer, dtype, [&] {
      const auto y = layer(x.to(dtype));
      EXPECT_EQ(y.scalar_type(), dtype);
      // The layer: projections, conv, the cell and the norm each round once or twice.
      EXPECT_TRUE(test::close_at_precision(y, reference, dtype, 8));
      const auto [stepped, state] = layer->step(x.narrow(1, 0, 1).to(dtype));
      EXPECT_TRUE(test::close_at_precision(stepped, reference.narrow(1, 0, 1), dtype, 8));
      const auto [stateful, final_state] = layer->forward_with_state(x.to(dtype));
      EXPECT_TRUE(test::close_at_precision(stateful, ref_stateful, dtype, 8));
      EXPECT_TRUE(test::close_at_precision(final_state.C, ref_state.C, dtype, 8));
    });
  }
}

TEST(mLSTMLayer, StateHelpers) {
  mLSTMState empty;
  EXPECT_FALSE(empty.defined());
  mLSTMState state{torch::ones({1, 2, 3, 3}, torch::requires_grad()), torch::ones({1, 2, 3, 1}),
                   torch::zeros({1, 2, 1, 1}), torch::ones({1, 4, 6})};
  EXPECT_TRUE(state.defined());
  const auto converted = state.to(torch::kCPU, torch::kFloat64);
  EXPECT_EQ(converted.C.scalar_type(), torch::kFloat64);
  EXPECT_EQ(converted.conv.scalar_type(), torch::kFloat64);
  EXPECT_FALSE(state.detach().C.requires_grad());
  EXPECT_FALSE(empty.to(torch::kCPU).detach().defined());
}

TEST(mLSTMLayer, RejectsBadInput) {
  mLSTMLayer layer(small_config());
  EXPECT_THROW(layer(torch::randn({2, 5, 15})), c10::Error);
  EXPECT_THROW(layer(torch::randn({5, 16})), c10::Error);
  EXPECT_THROW(layer->step(torch::randn({2, 2, 16})), c10::Error);
  const auto [y, state] = layer->forward_with_state(torch::randn({2, 3, 16}));
  EXPECT_THROW(layer->forward_with_state(torch::randn({3, 3, 16}), state), c10::Error);
}

}  // namespace
}  // namespace xlstm
