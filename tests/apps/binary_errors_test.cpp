// Hostile command lines for the built binaries: every one ends with a message (exit code 1 or 2),
// none with an uncaught exception, a LibTorch backtrace, a dispatcher dump or a 309-digit range.
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include <torch/cuda.h>

#include "apps/binaries.h"
#include "io/temp_dir.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/io/state_dict.h"
#include "xlstm/training/experiment_config.h"
#include "xlstm/xlstm_lm_model.h"

namespace xlstm {
namespace {

using testing::binary_built;
using testing::binary_path;
using testing::BinaryRun;
using testing::run_command;

/// Nothing of an internal dump in `output`.
void expect_clean(const BinaryRun& result) {
  for (const char* dump : {"terminate called", "Exception raised from", "frame #", "Aborted",
                           "This could be because", "179769313486231570"})
    EXPECT_EQ(result.output.find(dump), std::string::npos) << dump << " in:\n" << result.output;
}

void expect_error(const std::string& command, int code, const std::string& message) {
  const auto result = run_command(command);
  EXPECT_EQ(result.exit_code, code) << command << "\n" << result.output;
  EXPECT_NE(result.output.find(message), std::string::npos) << command << "\n" << result.output;
  expect_clean(result);
}

TEST(BinaryErrors, BenchRefusesBadDevicesSubcommandsAndImplementations) {
  if (!binary_built("xlstm-bench")) GTEST_SKIP() << "xlstm-bench is not built";
  const auto bench = binary_path("xlstm-bench");
  expect_error(bench + " slstm --device foo", 1,
               "xlstm-bench: --device 'foo' is not a device (cpu, cuda, cuda:N)");
  if (!torch::cuda::is_available())
    expect_error(bench + " slstm --device cuda", 1,
                 "xlstm-bench: --device cuda: no CUDA device is available to this process");
  expect_error(
      bench + " foo", 2,
      "xlstm-bench: unknown subcommand 'foo' (expected one of: cpu, slstm, generate, large, mlstm, lm)");
  expect_error(bench, 2, "xlstm-bench: give a subcommand: cpu, slstm");
  expect_error(bench + " slstm --impl cuda,foo --device cpu", 2, "foo not in {cuda,vanilla}");
  expect_error(bench + " cpu --batch 0", 2, "--batch: 0 is not a whole number in 1 .. 16777216");
}

TEST(BinaryErrors, TrainRefusesBadNumbersByName) {
  if (!binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  const auto train = binary_path("xlstm-train");
  expect_error(train + " --steps -3", 2,
               "xlstm-train: --steps: -3 is not a whole number in 1 .. 1000000000000");
  expect_error(train + " --steps 1e400", 2, "--steps: 1e400 is not a whole number");
  expect_error(train + " --grad-clip nan", 2,
               "xlstm-train: --grad-clip: nan is not a finite number in 0 .. 1e+12");
  expect_error(train + " --grad-clip inf", 2, "--grad-clip: inf is not a finite number");
  expect_error(train + " --dist-timeout 0", 2, "--dist-timeout: 0 is not a finite number");
  expect_error(train + " --bogus", 2,
               "xlstm-train: The following argument was not expected: --bogus");
  expect_error(train + " --config " + std::string(XLSTM_SOURCE_DIR) +
                   "/configs/parity_cpu.yaml --set training.lr=.nan --steps 1",
               1, "training.lr: must be a finite number > 0, got nan");
  expect_error("MASTER_PORT=abc " + train + " --nproc-per-node 2 --config " +
                   std::string(XLSTM_SOURCE_DIR) + "/configs/parity_cpu.yaml",
               1, "xlstm-train: MASTER_PORT='abc': expected an integer in [1, 65535]");
}

TEST(BinaryErrors, ConfigRefusesSlstmKernelDtypesWithTheKeyPath) {
  if (!binary_built("xlstm-config")) GTEST_SKIP() << "xlstm-config is not built";
  io::testing::TempDir dir;
  std::ofstream(dir.file("stack.yaml"))
      << "embedding_dim: 32\nnum_blocks: 1\nslstm_at: [0]\nslstm_block:\n  slstm:\n"
         "    num_heads: 2\n    dtype_g: float16\n";
  expect_error(binary_path("xlstm-config") + " " + dir.file("stack.yaml"), 1,
               "slstm_block.slstm.dtype_g: 'float16' is not supported");
}

TEST(BinaryErrors, GenerateRefusesNonFiniteSampling) {
  if (!binary_built("xlstm-generate")) GTEST_SKIP() << "xlstm-generate is not built";
  expect_error(binary_path("xlstm-generate") + " --temperature nan", 2,
               "--temperature: nan is not a finite number");
  expect_error(binary_path("xlstm-generate") + " --top-p 2", 2,
               "--top-p: 2 is not a finite number");
}

TEST(BinaryErrors, GenerateReadsOnlyARegularPromptFile) {
  if (!binary_built("xlstm-generate")) GTEST_SKIP() << "xlstm-generate is not built";
  expect_error(binary_path("xlstm-generate") + " --config " + XLSTM_SOURCE_DIR +
                   "/configs/text_bytes.yaml --prompt-file /dev/zero",
               1, "'/dev/zero' is a character device, not a regular file");
}

TEST(BinaryErrors, GenerateStopsWithThreeOnNonFiniteLogits) {
  if (!binary_built("xlstm-generate")) GTEST_SKIP() << "xlstm-generate is not built";
  const std::string config = std::string(XLSTM_SOURCE_DIR) + "/configs/text_bytes.yaml";
  xLSTMLMModel model(load_experiment_config(config).model);
  auto weights = io::state_dict(*model);
  weights.at("token_embedding.weight").fill_(std::numeric_limits<float>::quiet_NaN());
  io::testing::TempDir dir;
  io::save_safetensors(dir.file("nan.safetensors"), weights);
  const std::string command = binary_path("xlstm-generate") + " --config " + config +
                              " --weights " + dir.file("nan.safetensors") +
                              " --prompt-ids '1 2' --max-new-tokens 3";
  expect_error(command, 1, "(refused; --allow-nonfinite takes it)");
  expect_error(command + " --allow-nonfinite", 3,
               "xlstm-generate: generate: the logits for new token 0 of sequence 0 hold NaN or "
               "infinity; no token was drawn from them (exit code 3)");
}

TEST(BinaryErrors, ConfigNamesTheFileAndTheKey) {
  if (!binary_built("xlstm-config")) GTEST_SKIP() << "xlstm-config is not built";
  expect_error(binary_path("xlstm-config") + " /dev/zero", 1, "xlstm-config: ");
  expect_error(binary_path("xlstm-config") + " /no/such.yaml", 1, "/no/such.yaml");
  expect_error(binary_path("xlstm-config"), 2, "xlstm-config: file is required");
}

}  // namespace
}  // namespace xlstm
