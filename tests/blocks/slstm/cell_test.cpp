// sLSTMCell: parameters, initialisation, layouts and the backend selection.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/tensor_compare.h"
#include "xlstm/blocks/slstm/cell.h"
#include "xlstm/components/autocast.h"
#include "xlstm/config/error.h"

namespace xlstm {
namespace {

using test::max_abs_diff;

sLSTMCellConfig cell_config(int hidden_size, int num_heads, std::string backend = "vanilla") {
  sLSTMCellConfig c;
  c.hidden_size = hidden_size;
  c.num_heads = num_heads;
  c.backend = std::move(backend);
  return c;
}

/// The forget-gate slot of the vanilla bias layout b[g*H + h*DH + d], as [NH, DH].
torch::Tensor forget_bias(const sLSTMCell& cell) {
  const int64_t H = cell->config.hidden_size;
  return cell->_bias_.slice(0, H, 2 * H).view({cell->config.num_heads, cell->config.head_dim()});
}

torch::Tensor non_forget_bias(const sLSTMCell& cell) {
  const int64_t H = cell->config.hidden_size;
  return torch::cat({cell->_bias_.slice(0, 0, H), cell->_bias_.slice(0, 2 * H)});
}

TEST(sLSTMCell, ParametersHaveVanillaLayoutNames) {
  sLSTMCell cell(cell_config(12, 3));
  const auto params = cell->named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params["_recurrent_kernel_"].sizes(), torch::IntArrayRef({3, 16, 4}));
  EXPECT_EQ(params["_bias_"].sizes(), torch::IntArrayRef({48}));
  EXPECT_EQ(params["_bias_"].scalar_type(), torch::kFloat32);
}

TEST(sLSTMCell, PowerlawBiasMatchesTheOfficialFormula) {
  // -(-5 + 12 (d / (DH-1))^(0.3 + 1.3 block_idx / (num_blocks-1))), worked out by hand in float64.
  struct Case {
    int block_idx, num_blocks, head_dim;
    std::vector<double> values;
  };
  const std::vector<Case> cases = {
      {1, 3, 4, {5.0, 0.7741307658018481, -3.163841229195622, -7.0}},
      {0, 1, 5, {5.0, -2.917047464637365, -4.747028756274826, -6.00777705570882, -7.0}},
      {2, 3, 3, {5.0, 1.0414762676813174, -7.0}}};
  for (const Case& c : cases) {
    sLSTMCellConfig config = cell_config(2 * c.head_dim, 2);
    config._block_idx = c.block_idx;
    config._num_blocks = c.num_blocks;
    sLSTMCell cell(config);
    const torch::Tensor expected = torch::tensor(c.values, torch::kFloat64);
    for (int h = 0; h < 2; ++h)
      EXPECT_LT(max_abs_diff(forget_bias(cell)[h], expected), 2e-6) << "block " << c.block_idx;
    EXPECT_EQ(non_forget_bias(cell).abs().max().item<double>(), 0.0);
    EXPECT_EQ(cell->_recurrent_kernel_.abs().max().item<double>(), 0.0);
  }
}

TEST(sLSTMCell, OtherInitialisations) {
  sLSTMCellConfig config = cell_config(8, 2);
  config.bias_init = "small_init";
  config.recurrent_weight_init = "standard";
  sLSTMCell cell(config);
  const torch::Tensor linspace = torch::tensor({3.0, 4.0, 5.0, 6.0}, torch::kFloat64);
  for (int h = 0; h < 2; ++h) EXPECT_LT(max_abs_diff(forget_bias(cell)[h], linspace), 1e-6);
  EXPECT_EQ(non_forget_bias(cell).abs().max().item<double>(), 0.0);
  const double bound = 1.0 / std::sqrt(8.0);
  EXPECT_LE(cell->_recurrent_kernel_.abs().max().item<double>(), bound);
  EXPECT_GT(cell->_recurrent_kernel_.abs().max().item<double>(), 0.5 * bound);

  config.bias_init = "zeros";
  EXPECT_EQ(sLSTMCell(config)->_bias_.abs().max().item<double>(), 0.0);
  config.bias_init = "standard";
  const torch::Tensor standard = sLSTMCell(config)->_bias_;
  EXPECT_LE(standard.abs().max().item<double>(), bound);
  EXPECT_GT(standard.abs().min().item<double>(), 0.0);
}

TEST(sLSTMCell, ForwardReturnsHeadsLayoutAndFinalState) {
  torch::manual_seed(0);
  sLSTMCellConfig config = cell_config(8, 2);
  config.recurrent_weight_init = "standard";
  sLSTMCell cell(config);
  const torch::Tensor wx = torch::randn({3, 5, 32});  // [B, S, 4H]
  auto [y, state] = cell(wx);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({3, 2, 5, 4}));
  EXPECT_EQ(state.sizes(), torch::IntArrayRef({4, 3, 8}));
  auto [y_ref, state_ref] = ops::slstm::recurrence_vanilla(
      wx.transpose(0, 1), torch::zeros({4, 3, 8}), cell->_recurrent_kernel_, cell->_bias_,
      cell->recurrence_options());
  // y[b, h, s, d] = y_ref[s, b, h*DH + d]
  EXPECT_EQ(max_abs_diff(y, y_ref.view({5, 3, 2, 4}).permute({1, 2, 0, 3})), 0.0);
  EXPECT_EQ(max_abs_diff(state, state_ref), 0.0);
  // The last output is the final state's y.
  EXPECT_EQ(max_abs_diff(y.select(2, 4).reshape({3, 8}), state[0]), 0.0);
}

TEST(sLSTMCell, StepLoopEqualsForwardAndReturnsTheNewState) {
  torch::manual_seed(1);
  sLSTMCellConfig config = cell_config(8, 4);
  config.recurrent_weight_init = "standard";
  sLSTMCell cell(config);
  const torch::Tensor wx = torch::randn({2, 6, 32});
  auto [y, final] = cell(wx);
  torch::Tensor state;
  std::vector<torch::Tensor> ys;
  for (int64_t t = 0; t < 6; ++t) {
    auto [y_t, s] = cell->step(wx.slice(1, t, t + 1), state);
    ys.push_back(y_t);
    state = s;
  }
  EXPECT_LT(max_abs_diff(torch::cat(ys, 2), y), 1e-6);
  EXPECT_LT(max_abs_diff(state, final), 1e-6);
  EXPECT_THROW(cell->step(wx, state), c10::Error);
}

TEST(sLSTMCell, CudaBackendFallsBackToVanillaOnCpu) {
  torch::manual_seed(2);
  sLSTMCell vanilla(cell_config(8, 2, "vanilla"));
  sLSTMCell cuda(cell_config(8, 2, "cuda"));
  const torch::Tensor wx = torch::randn({2, 4, 32});
  EXPECT_EQ(max_abs_diff(cuda(wx).first, vanilla(wx).first), 0.0);
}

TEST(sLSTMCellCuda, UnderAutocastRunsInDtypeWAsTheOfficialCudaCell) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  sLSTMCell cell(cell_config(128, 4, "cuda"));
  cell->to(torch::kCUDA);
  const auto wx = torch::randn({2, 9, 4 * 128}, torch::kCUDA);
  const auto [y32, state32] = cell(wx);
  EXPECT_EQ(y32.scalar_type(), torch::kFloat32);  // no autocast: the input's dtype
  for (const auto& [dtype_w, expected] :
       {std::pair<std::string, torch::ScalarType>{"bfloat16", torch::kBFloat16},
        {"float32", torch::kFloat32}}) {
    auto config = cell->config;
    config.dtype_w = dtype_w;
    config.dtype_s = dtype_w;
    sLSTMCell cast(config);
    cast->to(torch::kCUDA);
    {
      torch::NoGradGuard no_grad;
      for (const auto& item : cell->named_parameters())
        cast->named_parameters()[item.key()].copy_(item.value());
    }
    CudaAutocast region(true, torch::kBFloat16);
    const auto [y, state] = cast(wx);
    EXPECT_EQ(y.scalar_type(), expected) << dtype_w;
    // bf16 inputs and recurrent products (8 bits of mantissa) through 9 steps: within 5% of the
    // largest float32 output (a wrong cast or layout is off by O(1)).
    const double tolerance = expected == torch::kFloat32 ? 1e-5 : 5e-2;
    EXPECT_LT(test::max_rel_diff(y.to(torch::kFloat32), y32), tolerance) << dtype_w;
  }
}

TEST(sLSTMCell, RejectsBadShapes) {
  sLSTMCell cell(cell_config(8, 2));
  EXPECT_THROW(cell(torch::randn({2, 4, 30})), c10::Error);
  EXPECT_THROW(cell(torch::randn({2, 4, 32}), torch::zeros({4, 3, 8})), c10::Error);
}

TEST(sLSTMCell, HalfInputsGiveHalfOutputs) {
  torch::manual_seed(3);
  sLSTMCell cell(cell_config(8, 2));
  const torch::Tensor wx = torch::randn({2, 4, 32});
  auto [y, state] = cell(wx.to(torch::kBFloat16));
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(state.scalar_type(), torch::kBFloat16);
  EXPECT_LT(test::max_rel_diff(y, cell(wx).first), 5e-2);
}

/// The ConfigError message of building a cell from `c`, or "" when it builds.
std::string cell_error(const sLSTMCellConfig& c) {
  try {
    sLSTMCell cell(c);
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

// The official CUDA kernel's dtypes (docs/slstm.md): the values the official defaults derive are
// accepted; others are refused naming the field, since our recurrences compute in float32.
TEST(sLSTMCell, KernelDtypesOtherThanTheDefaultsAreRefused) {
  auto c = cell_config(8, 2);  // dtype bfloat16: dtype_r = dtype_g = dtype_s = bfloat16
  EXPECT_EQ(cell_error(c), "");
  c.dtype = "float32";  // the chain follows dtype
  EXPECT_EQ(cell_error(c), "");

  using Field = std::optional<std::string> sLSTMCellConfig::*;
  // dtype_r: with mixed precision the official kernel would cast R to it.
  for (const auto& [field, name, value] : {std::tuple<Field, std::string, std::string>{
                                               &sLSTMCellConfig::dtype_g, "dtype_g", "float32"},
                                           {&sLSTMCellConfig::dtype_s, "dtype_s", "float16"},
                                           {&sLSTMCellConfig::dtype_r, "dtype_r", "float32"},
                                           {&sLSTMCellConfig::dtype_b, "dtype_b", "float16"}}) {
    c = cell_config(8, 2);
    c.*field = value;
    const std::string error = cell_error(c);
    EXPECT_NE(error.find(name + ": '" + value + "' is not supported"), std::string::npos) << error;
  }
  c = cell_config(8, 2);
  c.dtype_b = std::nullopt;  // null: dtype_b = dtype, as the official __post_init__
  EXPECT_EQ(cell_error(c), "");
}

// Without automatic mixed precision the official cell creates its parameters in dtype_r / dtype_b;
// so does ours, and the forward runs on them.
TEST(sLSTMCell, WithoutMixedPrecisionParametersTakeDtypeRAndDtypeB) {
  auto c = cell_config(8, 2);
  c.enable_automatic_mixed_precision = false;
  c.dtype = "float32";
  c.dtype_r = "bfloat16";
  c.dtype_g = "bfloat16";
  c.dtype_b = "float16";
  sLSTMCell cell(c);
  EXPECT_EQ(cell->_recurrent_kernel_.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(cell->_bias_.scalar_type(), torch::kHalf);
  const auto [y, state] = cell(torch::randn({2, 3, 32}));
  EXPECT_EQ(y.scalar_type(), torch::kFloat);
  EXPECT_EQ(state.sizes(), (std::vector<int64_t>{4, 2, 8}));
}

}  // namespace
}  // namespace xlstm
