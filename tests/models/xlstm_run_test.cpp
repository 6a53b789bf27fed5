// xlstm-run reproduces the reference fixtures from the command line (skipped when the examples are
// not built).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "io/temp_dir.h"
#include "support/fixtures.h"
#include "support/run_binary.h"
#include "support/tolerance.h"
#include "xlstm/blocks/slstm/backend.h"
#include "xlstm/io/state_dict.h"

namespace xlstm {
namespace {
namespace fs = std::filesystem;

// Runs xlstm-run on fixture `name` in `mode` with `extra` arguments; returns the largest relative
// difference from the fixture's output (skips when the binary is not built).
double run_on_fixture(const std::string& name, const std::string& mode, const std::string& extra) {
  const std::string binary = std::string(XLSTM_BINARY_DIR) + "/bin/xlstm-run";
  if (!fs::exists(binary)) {
    ADD_FAILURE() << "xlstm-run is not built";
    return 1.0;
  }
  const std::string dir = testing::reference_dir(name);
  const std::string out =
      (fs::temp_directory_path() / ("xlstm_run_" + name + "_" + mode + ".safetensors")).string();
  const std::string command = binary + " --config " + dir + "/config.yaml --weights " + dir +
                              "/tensors.safetensors --weights-prefix state. --input " + dir +
                              "/tensors.safetensors --output " + out + " --mode " + mode + " " +
                              extra + " > /dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  const auto reference = io::load_safetensors(dir + "/tensors.safetensors");
  const auto output = io::load_safetensors(out).at("output");
  fs::remove(out);
  return testing::max_rel_diff(output, reference.at(mode == "step" ? "step_output" : "output"));
}

bool xlstm_run_built() {
  return fs::exists(std::string(XLSTM_BINARY_DIR) + "/bin/xlstm-run");
}

class XlstmRunCli : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(XlstmRunCli, ReproducesFixture) {
  if (!xlstm_run_built()) GTEST_SKIP() << "xlstm-run is not built";
  const auto& [name, mode] = GetParam();
  EXPECT_LE(run_on_fixture(name, mode, ""), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, XlstmRunCli,
                         ::testing::Combine(::testing::Values("slstm_stack_small", "lm_tied",
                                                              "lm_parity_xlstm11"),
                                            ::testing::Values("forward", "step", "chunkwise")));

// The fixtures with sLSTM blocks on the GPU with the backend switched to our CUDA kernels (float32:
// the kernels' FMA path) from the command line.
class XlstmRunCudaBackend : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
};

TEST_P(XlstmRunCudaBackend, ReproducesFixture) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!slstm::cuda_backend_available()) GTEST_SKIP() << "the library has no CUDA backend";
  if (!xlstm_run_built()) GTEST_SKIP() << "xlstm-run is not built";
  const auto& [name, mode] = GetParam();
  const double diff =
      run_on_fixture(name, mode, "--device cuda --set slstm_block.slstm.backend=cuda");
  std::cout << name << " " << mode << " cuda backend: max relative difference " << diff << "\n";
  EXPECT_LE(diff, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, XlstmRunCudaBackend,
                         ::testing::Combine(::testing::Values("slstm_stack_small",
                                                              "lm_parity_xlstm11"),
                                            ::testing::Values("forward", "step")));

TEST(XlstmRunCliErrors, UnknownOverrideKeyIsAnError) {
  if (!xlstm_run_built()) GTEST_SKIP() << "xlstm-run is not built";
  const std::string dir = testing::reference_dir("lm_tied");
  const std::string command = std::string(XLSTM_BINARY_DIR) + "/bin/xlstm-run --config " + dir +
                              "/config.yaml --weights " + dir +
                              "/tensors.safetensors --weights-prefix state. --input " + dir +
                              "/tensors.safetensors --output /tmp/x.safetensors" +
                              " --set slstm_block.slstm.backendd=cuda 2>&1" +
                              " | grep -q 'slstm_block.slstm.backendd: unknown key'";
  EXPECT_EQ(std::system(command.c_str()), 0) << "no error naming the key from: " << command;
}

TEST(XlstmRunCliErrors, MissingInputTensorIsAnError) {
  if (!xlstm_run_built()) GTEST_SKIP() << "xlstm-run is not built";
  const std::string dir = testing::reference_dir("lm_tied");
  const auto run = testing::run_binary(
      "xlstm-run", "--config " + dir + "/config.yaml --weights " + dir +
                       "/tensors.safetensors --weights-prefix state. --input " + dir +
                       "/tensors.safetensors --input-key nope --output /tmp/x.safetensors");
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("xlstm-run: " + dir + "/tensors.safetensors has no tensor 'nope'"))
      << run;
}

/// xlstm-run on fixture `name` with weights file `weights` and `extra` arguments (an exit code
/// other than 0 fails the test); the output tensor it wrote.
torch::Tensor run_with_weights(const std::string& name, const std::string& weights,
                               const std::string& extra, testing::BinaryRun* run_out = nullptr) {
  const std::string dir = testing::reference_dir(name);
  io::testing::TempDir tmp;
  const auto run =
      testing::run_binary("xlstm-run", "--config " + dir + "/config.yaml --weights " + weights +
                                           " --input " + dir + "/tensors.safetensors --output " +
                                           tmp.file("out.safetensors") + " " + extra);
  EXPECT_EQ(run.exit_code, 0) << run;
  if (run_out) *run_out = run;
  if (run.exit_code != 0) return {};
  return io::load_safetensors(tmp.file("out.safetensors")).at("output");
}

// --dtype: the whole model in bfloat16 / float16 within the roundings of the fixture test
// (ReferenceFixture.ReducedPrecisionForwardCloseToFloat32), the output written as float32.
TEST(XlstmRunCli, DtypeRunsTheModelInThatPrecision) {
  if (!xlstm_run_built()) GTEST_SKIP() << "xlstm-run is not built";
  const std::string dir = testing::reference_dir("slstm_stack_small");
  const auto expected = io::load_safetensors(dir + "/tensors.safetensors").at("output");
  for (const auto& [name, dtype] :
       {std::pair{"bfloat16", torch::kBFloat16}, std::pair{"float16", torch::kHalf}}) {
    const auto output = run_with_weights("slstm_stack_small", dir + "/tensors.safetensors",
                                         std::string("--weights-prefix state. --dtype ") + name);
    ASSERT_TRUE(output.defined()) << name;
    EXPECT_EQ(output.scalar_type(), torch::kFloat);
    EXPECT_TRUE(test::close_at_precision(output, expected, dtype, 8)) << name;
    // Not float32 in disguise: the rounding shows.
    EXPECT_GT(testing::max_rel_diff(output, expected), 1e-5) << name;
  }
}

// Weights as a torch.save'd state dict (.pt, written by io::save_pt) reproduce the fixture.
TEST(XlstmRunCli, PtWeightsReproduceTheFixture) {
  if (!xlstm_run_built()) GTEST_SKIP() << "xlstm-run is not built";
  const std::string dir = testing::reference_dir("lm_tied");
  const auto tensors = io::load_safetensors(dir + "/tensors.safetensors");
  io::testing::TempDir tmp;
  io::save_pt(tmp.file("weights.pt"), io::strip_prefix(tensors, "state."));
  const auto output = run_with_weights("lm_tied", tmp.file("weights.pt"), "");
  ASSERT_TRUE(output.defined());
  EXPECT_LE(testing::max_rel_diff(output, tensors.at("output")), 1e-5);
}

// A weights file with an extra tensor: refused by default (naming it), loaded with --non-strict
// (which reports it and still reproduces the fixture); a missing tensor is reported too.
TEST(XlstmRunCli, NonStrictLoadsWhatMatchesAndReportsTheRest) {
  if (!xlstm_run_built()) GTEST_SKIP() << "xlstm-run is not built";
  const std::string dir = testing::reference_dir("lm_tied");
  const auto tensors = io::load_safetensors(dir + "/tensors.safetensors");
  auto weights = io::strip_prefix(tensors, "state.");
  weights["not_a_parameter"] = torch::zeros({3});
  io::testing::TempDir tmp;
  io::save_safetensors(tmp.file("extra.safetensors"), weights);

  const auto strict = testing::run_binary(
      "xlstm-run", "--config " + dir + "/config.yaml --weights " + tmp.file("extra.safetensors") +
                       " --input " + dir + "/tensors.safetensors --output " +
                       tmp.file("out.safetensors"));
  EXPECT_EQ(strict.exit_code, 1) << strict;
  EXPECT_TRUE(strict.printed("unexpected 'not_a_parameter'")) << strict;

  testing::BinaryRun run;
  const auto output =
      run_with_weights("lm_tied", tmp.file("extra.safetensors"), "--non-strict", &run);
  ASSERT_TRUE(output.defined());
  EXPECT_TRUE(run.printed("unexpected 'not_a_parameter'")) << run;
  EXPECT_LE(testing::max_rel_diff(output, tensors.at("output")), 1e-5);

  const std::string norm = "xlstm_block_stack.blocks.0.xlstm_norm.weight";
  weights.erase("not_a_parameter");
  ASSERT_EQ(weights.erase(norm), 1u);
  io::save_safetensors(tmp.file("missing.safetensors"), weights);
  run_with_weights("lm_tied", tmp.file("missing.safetensors"), "--non-strict", &run);
  EXPECT_TRUE(run.printed("1 missing, 0 unexpected, 0 mismatched")) << run;
  EXPECT_TRUE(run.printed("missing '" + norm + "'")) << run;
}

}  // namespace
}  // namespace xlstm
