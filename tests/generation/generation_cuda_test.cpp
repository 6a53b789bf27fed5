// Generation on a CUDA device (skipped without one): the CUDA-graph step equals the plain step
// (logits and greedy tokens), greedy generation on CUDA equals the CPU's (float32), and the same
// seed gives the same tokens.
#include <gtest/gtest.h>

#include "generation/tiny_lm.h"
#include "xlstm/generation/generate.h"

namespace xlstm::generation {
namespace {

using testing::greedy;
using testing::random_ids;
using testing::tiny_lm;

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

const torch::Device kCuda(torch::kCUDA);

/// The tiny LM in float32 with the sLSTM cuda backend, on `device`.
xLSTMLMModel tiny_cuda_lm(const torch::Device& device) {
  auto model = tiny_lm(torch::kFloat32, /*seed=*/2, "cuda");
  model->to(device);
  return model;
}

std::vector<std::vector<int64_t>> tokens_of(const GenerationResult<xLSTMBlockStackState>& r) {
  std::vector<std::vector<int64_t>> tokens;
  for (const auto& sequence : r.sequences) tokens.push_back(sequence.tokens);
  return tokens;
}

TEST(GenerationCuda, GraphStepEqualsPlainStep) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(4);
  auto model = tiny_cuda_lm(kCuda);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto prompt = torch::randint(256, {3, 9}, torch::kLong).to(kCuda);
  auto [logits, state] = model->forward_with_state(prompt);
  Stepper<xLSTMLMModel> graph(model, state, /*cuda_graph=*/true);
  Stepper<xLSTMLMModel> plain(model, state, /*cuda_graph=*/false);
  torch::Tensor ids = logits.select(1, 8).argmax(-1);
  for (int t = 0; t < 16; ++t) {
    const torch::Tensor from_graph = graph.step(ids).clone();
    ASSERT_EQ(graph.mode(), StepMode::kCudaGraph) << "the step was not captured";
    const torch::Tensor from_plain = plain.step(ids);
    std::tie(logits, state) = model->step(ids.unsqueeze(1), state);
    const std::string what = "step " + std::to_string(t);
    EXPECT_LE(test::max_rel_diff(from_graph, from_plain), 1e-6) << what;
    EXPECT_LE(test::max_rel_diff(from_plain, logits.select(1, 0)), 1e-5) << what;
    EXPECT_TRUE(torch::equal(from_graph.argmax(-1), logits.select(1, 0).argmax(-1))) << what;
    ids = from_graph.argmax(-1);
  }
  const std::vector<std::vector<int64_t>> prompts = {random_ids(5), random_ids(11)};
  EXPECT_EQ(tokens_of(generate(model, prompts, greedy(20, true))),
            tokens_of(generate(model, prompts, greedy(20, false))));
}

TEST(GenerationCuda, GreedyEqualsCpuFloat32) {
  SKIP_WITHOUT_CUDA();
  auto on_cuda = tiny_cuda_lm(kCuda);
  auto on_cpu = tiny_cuda_lm(torch::kCPU);  // same seed, same weights; the vanilla backend
  torch::manual_seed(6);
  const std::vector<std::vector<int64_t>> prompts = {random_ids(4), random_ids(13), random_ids(7)};
  const auto cuda_result = generate(on_cuda, prompts, greedy(32));
  const auto cpu_result = generate(on_cpu, prompts, greedy(32));
  EXPECT_EQ(tokens_of(cuda_result), tokens_of(cpu_result));
  testing::expect_states_near(cuda_result.state.to(torch::kCPU), cpu_result.state, 1e-4,
                              "final state");
}

TEST(GenerationCuda, SameSeedSameTokens) {
  SKIP_WITHOUT_CUDA();
  auto model = tiny_cuda_lm(kCuda);
  torch::manual_seed(8);
  const std::vector<std::vector<int64_t>> prompts = {random_ids(6), random_ids(6)};
  GenerationOptions options;
  options.max_new_tokens = 40;
  options.sampling.temperature = 1.2;
  options.sampling.top_k = 50;
  const auto draw = [&](uint64_t seed, bool cuda_graph) {
    options.seed = seed;
    options.cuda_graph = cuda_graph;
    return tokens_of(generate(model, prompts, options));
  };
  const auto first = draw(11, true);
  EXPECT_EQ(draw(11, true), first);
  EXPECT_EQ(draw(11, false), first);  // the graph changes no number
  EXPECT_NE(draw(12, true), first);
}

}  // namespace
}  // namespace xlstm::generation
