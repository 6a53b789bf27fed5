// ops::linear_cross_entropy against the unfused head and loss (torch::linear, then
// sequence_cross_entropy): the loss and the gradients of hidden and weight, over chunk sizes that
// do and do not divide the rows, with ignored targets; the products in bfloat16 as under autocast;
// errors that name the shapes.
#include <gtest/gtest.h>

#include "support/small_models.h"
#include "xlstm/components/autocast.h"
#include "xlstm/ops/linear_cross_entropy.h"
#include "xlstm/training/metrics.h"
#include "xlstm/xlstm_lm_model.h"

namespace xlstm {
namespace {

struct Inputs {
  torch::Tensor hidden, weight, targets;
};

Inputs make_inputs(torch::ScalarType dtype, const torch::Device& device) {
  torch::manual_seed(11);
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  Inputs in{torch::randn({2, 5, 7}, options).requires_grad_(true),
            torch::randn({11, 7}, options).requires_grad_(true),
            torch::randint(11, {2, 5}, torch::TensorOptions().dtype(torch::kLong).device(device))};
  in.targets.index_put_({0, 1}, -1);  // ignored
  in.targets.index_put_({1, 4}, -1);
  return in;
}

struct Result {
  torch::Tensor loss, dhidden, dweight;
};

Result backward_of(const Inputs& in, const torch::Tensor& loss) {
  in.hidden.mutable_grad() = torch::Tensor();
  in.weight.mutable_grad() = torch::Tensor();
  loss.backward();
  return {loss.detach(), in.hidden.grad().clone(), in.weight.grad().clone()};
}

void expect_close(const Result& got, const Result& want, double rtol, const std::string& what) {
  const auto close = [&](const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>() <=
           rtol * b.abs().max().item<double>();
  };
  EXPECT_TRUE(close(got.loss, want.loss)) << what << ": " << got.loss << " vs " << want.loss;
  EXPECT_TRUE(close(got.dhidden, want.dhidden)) << what << " dhidden";
  EXPECT_TRUE(close(got.dweight, want.dweight)) << what << " dweight";
}

TEST(LinearCrossEntropy, EqualsTheUnfusedHeadAndLossOverChunkSizes) {
  for (const auto& [dtype, rtol] : {std::pair{torch::kFloat64, 1e-12}, {torch::kFloat32, 1e-5}}) {
    const Inputs in = make_inputs(dtype, torch::kCPU);
    const Result want =
        backward_of(in, sequence_cross_entropy(torch::linear(in.hidden, in.weight), in.targets));
    for (const int64_t chunk : {0, 1, 3, 10, 64}) {
      ops::LinearCrossEntropyOptions options;
      options.chunk_rows = chunk;
      const Result got =
          backward_of(in, ops::linear_cross_entropy(in.hidden, in.weight, in.targets, options));
      expect_close(got, want, rtol,
                   std::string(c10::toString(dtype)) + " chunk " + std::to_string(chunk));
    }
  }
}

// float32 parameters with the products in bfloat16: the logits rounded to bfloat16, then the
// float32 cross entropy, as the unfused head computes under autocast.
TEST(LinearCrossEntropy, RoundsTheLogitsToTheComputeDtype) {
  const Inputs in = make_inputs(torch::kFloat32, torch::kCPU);
  const auto bf16 = torch::kBFloat16;
  const Result want = backward_of(
      in,
      sequence_cross_entropy(
          torch::linear(in.hidden.to(bf16), in.weight.to(bf16)).to(torch::kFloat32), in.targets));
  ops::LinearCrossEntropyOptions options;
  options.compute_dtype = bf16;
  options.chunk_rows = 4;
  const Result got =
      backward_of(in, ops::linear_cross_entropy(in.hidden, in.weight, in.targets, options));
  EXPECT_LE((got.loss - want.loss).abs().item<double>(), 1e-6 * want.loss.abs().item<double>());
  // The unfused weight gradient is one bfloat16 product over all rows, ours float32 sums of
  // per-chunk bfloat16 products: a few bfloat16 roundings apart.
  expect_close(got, want, 3 * 0.0078125, "bf16 products");
  EXPECT_EQ(got.dhidden.scalar_type(), torch::kFloat32);
  EXPECT_EQ(got.dweight.scalar_type(), torch::kFloat32);
}

TEST(LinearCrossEntropyCuda, UnderAutocastEqualsTheUnfusedHeadAndLoss) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Inputs in = make_inputs(torch::kFloat32, torch::kCUDA);
  Result want;
  {
    CudaAutocast autocast(true, torch::kBFloat16);
    const auto logits = torch::linear(in.hidden, in.weight);
    ASSERT_EQ(logits.scalar_type(), torch::kBFloat16);
    want.loss = sequence_cross_entropy(logits, in.targets);
  }
  want = backward_of(in, want.loss);
  ops::LinearCrossEntropyOptions options;
  options.compute_dtype = torch::kBFloat16;
  options.chunk_rows = 3;
  Result got;
  {
    CudaAutocast autocast(true, torch::kBFloat16);
    got.loss = ops::linear_cross_entropy(in.hidden, in.weight, in.targets, options);
  }
  got = backward_of(in, got.loss);
  expect_close(got, want, 3 * 0.0078125, "cuda autocast bf16");
}

// The model's loss through its two ends and the op equals the loss of its logits, weights and
// embedding gradients included (the head's weight tied to the embedding).
TEST(LinearCrossEntropy, ModelLossThroughEmbedAndTheStack) {
  auto config = testing::mlstm_slstm_config<xLSTMLMModelConfig>(8);
  config.vocab_size = 13;
  config.tie_weights = true;
  config.finalize();
  torch::manual_seed(2);
  xLSTMLMModel model(config);
  const torch::Tensor ids = torch::randint(13, {2, 8}, torch::kLong);
  const torch::Tensor targets = torch::randint(13, {2, 8}, torch::kLong);
  const auto gradients = [&](const torch::Tensor& loss) {
    model->zero_grad();
    loss.backward();
    return std::pair{loss.detach(), model->token_embedding->weight.grad().clone()};
  };
  const auto [want_loss, want_grad] =
      gradients(sequence_cross_entropy(model->forward(ids), targets));
  ops::LinearCrossEntropyOptions options;
  options.chunk_rows = 5;
  const auto [loss, grad] =
      gradients(ops::linear_cross_entropy(model->xlstm_block_stack->forward(model->embed(ids)),
                                          model->lm_head_weight, targets, options));
  EXPECT_NEAR(loss.item<double>(), want_loss.item<double>(), 1e-6 * want_loss.item<double>());
  EXPECT_LE((grad - want_grad).abs().max().item<double>(),
            1e-5 * want_grad.abs().max().item<double>());
}

TEST(LinearCrossEntropy, NamesMismatchedShapes) {
  const Inputs in = make_inputs(torch::kFloat32, torch::kCPU);
  try {
    ops::linear_cross_entropy(in.hidden, in.weight.narrow(1, 0, 6), in.targets);
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 5, 7] does not match weight [11, 6]"),
              std::string::npos)
        << e.what();
  }
  try {
    ops::linear_cross_entropy(in.hidden, in.weight, in.targets.narrow(1, 0, 4));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("targets [2, 4] do not match hidden [2, 5, 7]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace xlstm
