// Training on the GPU as xlstm-train runs the official parity configs: an LM with an mLSTM and an
// sLSTM block (our sLSTM kernels) under bf16 autocast with float32 weights. Skipped without a GPU
// or without the CUDA backend in the library.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "io/file_tree.h"
#include "io/temp_dir.h"
#include "training/trainer_support.h"
#include "xlstm/blocks/slstm/backend.h"
#include "xlstm/training/trainer.h"

namespace xlstm {
namespace {

using io::testing::TempDir;
using testing::number;
using testing::quiet_options;
using testing::read_metrics;

void replace(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

// The tiny parity experiment as xLSTM[1:1] of 32 dimensions on the GPU with the given backend.
ExperimentConfig tiny_parity_cuda(const std::string& backend) {
  std::string yaml = testing::tiny_parity_yaml(150);
  replace(yaml, "  device: cpu\n",
          "  device: cuda\n  enable_mixed_precision: true\n  amp_precision: bfloat16\n"
          "  weight_precision: float32\n");
  replace(yaml, "  num_blocks: 1\n  embedding_dim: 8\n", "  num_blocks: 2\n  embedding_dim: 32\n");
  replace(yaml, "      num_heads: 1\n  slstm_at: [0]\n",
          "      num_heads: 2\n      backend: " + backend +
              "\n  slstm_at: [1]\n  mlstm_block:\n    mlstm:\n      num_heads: 2\n");
  return from_yaml_string<ExperimentConfig>(yaml, "tiny_parity_cuda");
}

std::vector<double> losses(const std::string& metrics_path) {
  std::vector<double> out;
  for (const auto& line : read_metrics(metrics_path)) out.push_back(number(line, "loss"));
  return out;
}

TEST(TrainerCuda, LmWithSlstmBlocksTrainsUnderBf16Autocast) {
  const ExperimentConfig cuda_config = tiny_parity_cuda("cuda");  // the YAML is checked everywhere
  const ExperimentConfig vanilla_config = tiny_parity_cuda("vanilla");
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!slstm::cuda_backend_available()) GTEST_SKIP() << "the library has no CUDA backend";
  TempDir cuda_dir, vanilla_dir;
  TrainerOptions options = quiet_options(cuda_dir.path().string(), 10);
  options.checkpoint_every = 50;  // replacing checkpoints removes directories (file_tree.h)
  Trainer trainer(cuda_config, options);
  ASSERT_TRUE(trainer.config().model.slstm_block.has_value());
  EXPECT_EQ(trainer.config().model.slstm_block->slstm.backend, "cuda");
  for (const auto& p : trainer.model()->parameters()) {
    EXPECT_TRUE(p.is_cuda());
    EXPECT_EQ(p.scalar_type(), torch::kFloat32);  // weight_precision; autocast computes in bf16
  }
  trainer.train();
  Trainer(vanilla_config, quiet_options(vanilla_dir.path().string(), 10)).train();

  EXPECT_EQ(io::subdirectories(cuda_dir.file("checkpoints")),
            std::vector<std::string>{"step_00000150"});
  const auto ours = losses(cuda_dir.file("metrics.jsonl"));
  const auto vanilla = losses(vanilla_dir.file("metrics.jsonl"));
  ASSERT_EQ(ours.size(), 15u);
  ASSERT_EQ(vanilla.size(), 15u);
  EXPECT_LT(ours.back(), 0.8 * ours.front())
      << "loss went from " << ours.front() << " to " << ours.back();
  // Same data, seed and initialisation: the first interval agrees with the vanilla backend up to
  // bf16 rounding.
  EXPECT_NEAR(ours.front(), vanilla.front(), 2e-2);
}

}  // namespace
}  // namespace xlstm
