// xLSTM-Large's decode step on CUDA (skipped without a GPU) with the decode kernels (ops/decode.h)
// against the same step with XLSTM_DECODE_KERNELS=0 and against the Python references of
// tests/data/large (float32: logits within 1e-4 of the largest, the same greedy tokens through
// the CUDA-graph generation), in both weight modes; in bfloat16 against the ATen step.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "support/environment.h"
#include "support/tensor_compare.h"
#include "support/tolerance.h"
#include "xlstm/generation/generate.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/xlstm_large/from_pretrained.h"

namespace xlstm::large {
namespace {

std::string decode_data_dir(const std::string& name) {
  return std::string(XLSTM_TEST_DATA_DIR) + "/large/" + name;
}

/// The reference tensor `key` of a checkpoint directory of tests/data/large.
torch::Tensor decode_reference(const std::string& name, const char* key) {
  const auto file = io::read_safetensors(decode_data_dir(name) + "/reference.safetensors");
  return file.tensors.at(key);
}

int64_t decode_reference_prefill(const std::string& name) {
  const auto file = io::read_safetensors(decode_data_dir(name) + "/reference.safetensors");
  return std::stoll(file.metadata.at("prefill"));
}

/// Logits of a prefill of `prefill` tokens, then of step_in_place for each later token.
torch::Tensor prefill_then_steps_in_place(xLSTMLarge& model, const torch::Tensor& ids,
                                          int64_t prefill) {
  auto [logits, state] = model->forward_with_state(ids.narrow(1, 0, prefill));
  std::vector<torch::Tensor> parts = {logits};
  for (int64_t t = prefill; t < ids.size(1); ++t)
    parts.push_back(model->step_in_place(ids.narrow(1, t, 1), state).clone());
  return torch::cat(parts, 1);
}

std::vector<std::vector<int64_t>> decode_rows(const torch::Tensor& ids) {
  std::vector<std::vector<int64_t>> rows;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    const auto row = ids[b].contiguous().to(torch::kCPU);
    rows.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
  }
  return rows;
}

xLSTMLarge decode_model(const std::string& name, torch::ScalarType dtype,
                        const std::string& weight_mode) {
  PretrainedOptions options;
  options.device = torch::kCUDA;
  options.dtype = dtype;
  options.weight_mode = weight_mode;
  return load_pretrained(decode_data_dir(name), options).model;
}

class PretrainedDecodeCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(PretrainedDecodeCuda, StepsAndGreedyTokensEqualThePythonOnes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string name = GetParam();
  const auto ids = decode_reference(name, "input_ids").to(torch::kCUDA);
  const auto step_logits = decode_reference(name, "logits_step");
  const auto greedy = decode_reference(name, "greedy_ids");
  const int64_t prefill = decode_reference_prefill(name);
  for (const std::string mode : {"single", "fused"}) {
    auto model = decode_model(name, torch::kFloat32, mode);
    torch::NoGradGuard no_grad;
    const auto with_kernels = prefill_then_steps_in_place(model, ids, prefill);
    const auto without = test::with_environment("XLSTM_DECODE_KERNELS", "0", [&] {
      return prefill_then_steps_in_place(model, ids, prefill);
    });
    EXPECT_LT(test::max_rel_diff(with_kernels, without), 1e-5) << name << " " << mode;
    EXPECT_LT(test::max_rel_diff(with_kernels.to(torch::kCPU), step_logits), 1e-4)
        << name << " " << mode;

    generation::GenerationOptions options;
    options.max_new_tokens = greedy.size(1);
    options.sampling.temperature = 0.0;
    options.cuda_graph = true;
    const auto result =
        generation::generate(model, decode_rows(ids.narrow(1, 0, prefill)), options);
    for (int64_t b = 0; b < greedy.size(0); ++b)
      EXPECT_EQ(result.sequences[b].tokens, decode_rows(greedy)[b])
          << name << " " << mode << " row " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, PretrainedDecodeCuda,
                         ::testing::Values("hf_tiny", "official_tiny"));

TEST(LargeDecodeCuda, Bfloat16StepsEqualTheAtenStep) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string name = "official_tiny";
  const auto ids = decode_reference(name, "input_ids").to(torch::kCUDA);
  const int64_t prefill = decode_reference_prefill(name);
  for (const std::string mode : {"single", "fused"}) {
    auto model = decode_model(name, torch::kBFloat16, mode);
    torch::NoGradGuard no_grad;
    const auto with_kernels = prefill_then_steps_in_place(model, ids, prefill);
    const auto without = test::with_environment("XLSTM_DECODE_KERNELS", "0", [&] {
      return prefill_then_steps_in_place(model, ids, prefill);
    });
    // Two blocks of a few dozen roundings, each moved by at most a unit by the summation order.
    EXPECT_TRUE(test::close_at_precision(with_kernels, without, torch::kBFloat16, 8)) << mode;
    EXPECT_FALSE(torch::equal(with_kernels, torch::zeros_like(with_kernels))) << mode;
  }
}

}  // namespace
}  // namespace xlstm::large
