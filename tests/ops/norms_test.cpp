// The ATen path of ops/norms.h (the CPU): RMSNorm, the per-head layer norm with and without its
// output gate, the gated SiLU in both layouts and soft-capping against their formulas in float64,
// the float32 statistics of `force_float32`, reduced-precision inputs, and the shape errors.
#include "xlstm/ops/norms.h"

#include <gtest/gtest.h>

#include <string>

#include "support/tensor_compare.h"
#include "support/tolerance.h"

namespace xlstm::ops {
namespace {

using test::max_rel_diff;

const auto kDouble = torch::TensorOptions().dtype(torch::kFloat64);

torch::Tensor rms_formula(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                          double eps) {
  return x / torch::sqrt(x.pow(2).mean(-1, true) + eps) * w + b;
}

TEST(Norms, RmsNormFollowsItsFormula) {
  torch::manual_seed(0);
  const auto x = torch::randn({2, 3, 12}, kDouble) * 3;
  const auto w = torch::rand({12}, kDouble) + 0.5, b = torch::randn({12}, kDouble);
  EXPECT_LT(max_rel_diff(rms_norm(x, w, b, 1e-5, false), rms_formula(x, w, b, 1e-5)), 1e-14);
  const auto plain = x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-5);
  EXPECT_LT(max_rel_diff(rms_norm(x, {}, {}, 1e-5, false), plain), 1e-14);
  // force_float32: a float64 input is normalised in float32 (as the Python module does).
  const auto forced = rms_norm(x, w, b, 1e-5, true);
  EXPECT_EQ(forced.scalar_type(), torch::kFloat64);
  EXPECT_GT(test::max_abs_diff(forced, rms_formula(x, w, b, 1e-5)), 0.0);
  EXPECT_TRUE(test::close_at_precision(forced, rms_formula(x, w, b, 1e-5), torch::kFloat, 4));
}

TEST(Norms, ReducedPrecisionInputsAreNormalisedInFloat32AndRoundedBeforeTheWeight) {
  torch::manual_seed(1);
  const auto x = (torch::randn({5, 64}, kDouble) * 4).to(torch::kBFloat16);
  const auto w = (torch::rand({64}, kDouble) + 0.5).to(torch::kBFloat16);
  const auto y = rms_norm(x, w, {}, 1e-6, true);
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  const auto x64 = x.to(torch::kFloat64);
  const auto normed = (x64 / torch::sqrt(x64.pow(2).mean(-1, true) + 1e-6)).to(torch::kBFloat16);
  // The weight multiplies the rounded normalised values: one rounding more.
  EXPECT_TRUE(test::close_at_precision(y, normed.to(torch::kFloat64) * w.to(torch::kFloat64),
                                       torch::kBFloat16, 2));
  // Without force_float32 the statistics stay in bfloat16 and differ.
  EXPECT_GT(test::max_abs_diff(rms_norm(x, w, {}, 1e-6, false), y), 0.0);
}

TEST(Norms, MultiheadNormIsALayerNormPerHeadThenTheGate) {
  torch::manual_seed(2);
  const int64_t B = 2, S = 3, NH = 4, DH = 6;
  const auto h = torch::randn({B, S, NH, DH}, kDouble) * 2 + 1;
  const auto w = torch::rand({NH * DH}, kDouble) + 0.5, b = torch::randn({NH * DH}, kDouble);
  const auto per_head = torch::layer_norm(h, {DH}, {}, {}, 1e-5).reshape({B, S, NH * DH});
  const auto normed = multihead_norm(h, w, b, 1e-5, false);
  EXPECT_LT(max_rel_diff(normed, per_head * w + b), 1e-14);
  const auto o = torch::randn({B, S, NH * DH}, kDouble) * 3;
  const auto gated = multihead_norm_gate(h, o, w, b, 1e-5, false);
  EXPECT_LT(max_rel_diff(gated, torch::sigmoid(o) * (per_head * w + b)), 1e-14);
  // A head-major cell output transposed to [B, S, NH, DH] (as the mLSTM layer passes it).
  const auto head_major = h.transpose(1, 2).contiguous();
  EXPECT_LT(
      max_rel_diff(multihead_norm_gate(head_major.transpose(1, 2), o, w, b, 1e-5, false), gated),
      1e-14);
  EXPECT_TRUE(test::close_at_precision(multihead_norm_gate(h, o, w, {}, 1e-5, true),
                                       torch::sigmoid(o) * per_head * w, torch::kFloat, 4));
}

TEST(Norms, GatedSiluInBothLayouts) {
  torch::manual_seed(3);
  const auto gate = torch::randn({2, 3, 10}, kDouble) * 3, z = torch::randn({2, 3, 10}, kDouble);
  const auto expected = gate * torch::sigmoid(gate) * z;
  EXPECT_LT(max_rel_diff(gated_silu(gate, z), expected), 1e-14);
  const auto fused = gated_silu(torch::cat({gate, z}, -1));
  EXPECT_EQ(fused.sizes(), gate.sizes());
  EXPECT_LT(max_rel_diff(fused, expected), 1e-14);
}

TEST(Norms, SoftCapFollowsItsFormula) {
  const auto x = torch::linspace(-200, 200, 101, kDouble);
  EXPECT_LT(max_rel_diff(soft_cap(x, 15.0), 15.0 * torch::tanh(x / 15.0)), 1e-15);
  EXPECT_LE(soft_cap(x, 15.0).abs().max().item<double>(), 15.0);
}

/// The message of the c10::Error that `fn` throws ("" when it throws none).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Norms, BadShapesAreNamed) {
  const auto x = torch::randn({2, 8}, kDouble);
  const auto h = torch::randn({1, 2, 2, 4}, kDouble);
  EXPECT_NE(error_of([&] {
              rms_norm(x, torch::ones({7}, kDouble), {}, 1e-6, true);
            }).find("rms_norm: weight must be [8], got [7]"),
            std::string::npos);
  EXPECT_THROW(multihead_norm(h, {}, torch::ones({4}, kDouble), 1e-6, true), c10::Error);
  EXPECT_THROW(multihead_norm_gate(h, torch::randn({1, 2, 4}, kDouble), {}, {}, 1e-6, true),
               c10::Error);
  EXPECT_THROW(multihead_norm(x, {}, {}, 1e-6, true), c10::Error);
  EXPECT_THROW(gated_silu(torch::randn({2, 7}, kDouble)), c10::Error);
  EXPECT_THROW(gated_silu(x, torch::randn({2, 4}, kDouble)), c10::Error);
  EXPECT_THROW(soft_cap(x, 0.0), c10::Error);
}

}  // namespace
}  // namespace xlstm::ops
