// On a CUDA device (skipped without one; scripts/gpu-check.sh runs the *Cuda* tests): the mLSTM
// math and layer against the CPU, the chunkwise form on CUDA, and whole models in bfloat16 on
// CUDA against the float32 fixtures of the official package.
#include <gtest/gtest.h>

#include "model_kinds.h"
#include "support/fixture_gradients.h"
#include "support/fixtures.h"
#include "support/tolerance.h"
#include "xlstm/blocks/mlstm/layer.h"
#include "xlstm/blocks/slstm/backend.h"
#include "xlstm/io/state_dict.h"
#include "xlstm/ops/mlstm.h"

namespace xlstm {
namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

// The parallel and chunkwise mLSTM forms on CUDA (float32) against the parallel form on the CPU,
// gates up to +-10, S = 200 over chunk sizes 16 and 64 (the last chunk shorter). Held to 2 S
// roundings of the output scale: numerator and normaliser are sums over up to S positions, which
// CUDA adds in another order (measured on the H200: 139 roundings).
TEST(mLSTMBackendsCuda, ParallelAndChunkwiseMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(1);
  const int64_t B = 2, NH = 3, S = 200, DH = 16;
  std::vector<torch::Tensor> in = {
      torch::randn({B, NH, S, DH}), torch::randn({B, NH, S, DH}), torch::randn({B, NH, S, DH}),
      10 * torch::rand({B, NH, S, 1}) - 5, 10 * torch::rand({B, NH, S, 1}) - 2};
  const auto reference = ops::mlstm::parallel_stabilized(in[0], in[1], in[2], in[3], in[4]);
  std::vector<torch::Tensor> gpu;
  for (const auto& t : in) gpu.push_back(t.cuda());
  const auto parallel = ops::mlstm::parallel_stabilized(gpu[0], gpu[1], gpu[2], gpu[3], gpu[4]);
  EXPECT_TRUE(test::close_at_precision(parallel, reference, torch::kFloat, 2 * S));
  for (int64_t chunk : {16, 64}) {
    const auto [chunked, state] =
        ops::mlstm::chunkwise_stabilized(gpu[0], gpu[1], gpu[2], gpu[3], gpu[4], {}, chunk);
    EXPECT_TRUE(chunked.is_cuda());
    EXPECT_TRUE(test::close_at_precision(chunked, reference, torch::kFloat, 2 * S)) << chunk;
  }
}

// The mLSTM layer on CUDA: parallel forward, chunkwise forward_with_state beyond context_length
// and the step loop against the same layer on the CPU, and its gradients.
TEST(mLSTMLayerCuda, ForwardChunkwiseStepAndGradientsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(2);
  mLSTMLayerConfig config;
  config.embedding_dim = 32;
  config.num_heads = 4;
  config.context_length = 24;
  mLSTMLayer cpu(config), gpu(config);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : cpu->parameters()) p.add_(torch::randn_like(p), 0.1);
    const auto source = cpu->named_parameters();
    for (auto& item : gpu->named_parameters()) item.value().copy_(source[item.key()]);
  }
  gpu->to(torch::kCUDA);
  const auto x = torch::randn({2, 24, 32});
  const auto x_cpu = x.clone().requires_grad_(true), x_gpu = x.cuda().requires_grad_(true);
  const auto y_cpu = cpu(x_cpu), y_gpu = gpu(x_gpu);
  EXPECT_TRUE(test::close_at_precision(y_gpu, y_cpu, torch::kFloat, 64));
  y_cpu.square().sum().backward();
  y_gpu.square().sum().backward();
  EXPECT_TRUE(test::close_at_precision(x_gpu.grad(), x_cpu.grad(), torch::kFloat, 256));
  const auto gpu_parameters = gpu->named_parameters();
  for (const auto& item : cpu->named_parameters())
    EXPECT_TRUE(test::close_at_precision(gpu_parameters[item.key()].grad(), item.value().grad(),
                                         torch::kFloat, 256))
        << item.key();

  torch::NoGradGuard no_grad;
  const auto longer = torch::randn({2, 60, 32});  // past context_length: chunkwise
  const auto [chunk_cpu, state_cpu] = cpu->forward_with_state(longer);
  const auto [chunk_gpu, state_gpu] = gpu->forward_with_state(longer.cuda());
  EXPECT_TRUE(test::close_at_precision(chunk_gpu, chunk_cpu, torch::kFloat, 64));
  EXPECT_TRUE(test::close_at_precision(state_gpu.C, state_cpu.C, torch::kFloat, 64));
  mLSTMState state;
  std::vector<torch::Tensor> steps;
  for (int64_t t = 0; t < 60; ++t) {
    auto [y, next] = gpu->step(longer.narrow(1, t, 1).cuda(), state);
    steps.push_back(y);
    state = next;
  }
  EXPECT_TRUE(test::close_at_precision(torch::cat(steps, 1), chunk_cpu, torch::kFloat, 64));
}

// Each official fixture as a whole model in bfloat16 on CUDA (vanilla sLSTM, and our CUDA sLSTM
// kernels when built) against the float32 output of the official package, within the roundings
// of the CPU test (ReferenceFixture.ReducedPrecisionForwardCloseToFloat32).
class ReferenceFixtureCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceFixtureCuda, BFloat16WholeModelCloseToTheFloat32Fixture) {
  SKIP_WITHOUT_CUDA();
  const std::string dir = testing::reference_dir(GetParam());
  const auto tensors = io::load_safetensors(dir + "/tensors.safetensors");
  std::vector<std::vector<ConfigOverride>> variants = {{}};
  const bool has_slstm =
      testing::read_text(dir + "/config.yaml").find("slstm_block") != std::string::npos;
  if (has_slstm && slstm::cuda_backend_available())
    variants.push_back({{"slstm_block.slstm.backend", "cuda"}});
  for (const auto& overrides : variants) {
    SCOPED_TRACE(overrides.empty() ? "vanilla sLSTM" : "cuda sLSTM");
    auto model = apps::build_model(dir + "/config.yaml", "auto", overrides);
    io::load_state_dict(model->module(), io::strip_prefix(tensors, "state."));
    model->module().to(torch::kCUDA, torch::kBFloat16);
    model->module().eval();
    torch::NoGradGuard no_grad;
    auto input = tensors.at("input").cuda();
    if (input.is_floating_point()) input = input.to(torch::kBFloat16);
    const auto output = model->forward(input);
    EXPECT_EQ(output.scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(test::close_at_precision(output, tensors.at("output"), torch::kBFloat16, 8));
  }
}

// Each official fixture in float32 on CUDA with the default mLSTM backend, which runs the
// chunkwise kernels where they apply (readme_stack: head dim 64; the others' heads are smaller and
// take the ATen forms): the output and every gradient within the kernels' 1e-4 of the fixture.
TEST_P(ReferenceFixtureCuda, Float32OutputAndGradientsWithTheDefaultBackendMatchTheFixture) {
  SKIP_WITHOUT_CUDA();
  constexpr double kKernelTolerance = 1e-4;
  const std::string dir = testing::reference_dir(GetParam());
  const auto tensors = io::load_safetensors(dir + "/tensors.safetensors");
  auto model = apps::build_model(dir + "/config.yaml");
  io::load_state_dict(model->module(), io::strip_prefix(tensors, "state."));
  model->module().eval();
  {
    torch::NoGradGuard no_grad;
    model->module().to(torch::kCUDA);
    auto input = tensors.at("input").cuda();
    EXPECT_LE(testing::max_rel_diff(model->forward(input).cpu(), tensors.at("output")),
              kKernelTolerance);
  }
  auto grads = testing::fixture_gradients(*model, tensors, torch::kFloat, torch::kCUDA);
  auto expected = io::strip_prefix(tensors, "grad.");
  if (grads.count("input")) expected["input"] = tensors.at("input_grad");
  for (const auto& [name, grad] : expected) {
    ASSERT_TRUE(grads.count(name) && grads[name].defined()) << name;
    EXPECT_LE(testing::max_rel_diff(grads[name].cpu(), grad), kKernelTolerance) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Official, ReferenceFixtureCuda,
                         ::testing::Values("mlstm_stack_small", "slstm_stack_small", "readme_stack",
                                           "lm_parity_xlstm11", "lm_tied"));

}  // namespace
}  // namespace xlstm
