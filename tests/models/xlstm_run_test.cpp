// xlstm-run reproduces the reference fixtures from the command line (skipped when the examples are
// not built).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "support/fixtures.h"
#include "xlstm/blocks/slstm/backend.h"

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
  const std::string binary = std::string(XLSTM_BINARY_DIR) + "/bin/xlstm-run";
  if (!fs::exists(binary)) GTEST_SKIP() << "xlstm-run is not built";
  const std::string dir = testing::reference_dir("lm_tied");
  const std::string command = binary + " --config " + dir + "/config.yaml --weights " + dir +
                              "/tensors.safetensors --weights-prefix state. --input " + dir +
                              "/tensors.safetensors --input-key nope --output /tmp/x.safetensors" +
                              " 2> /dev/null";
  EXPECT_NE(std::system(command.c_str()), 0);
}

}  // namespace
}  // namespace xlstm
