// xlstm-run reproduces the reference fixtures from the command line (skipped when the examples are
// not built).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "support/fixtures.h"

namespace xlstm {
namespace {
namespace fs = std::filesystem;

class XlstmRunCli : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(XlstmRunCli, ReproducesFixture) {
  const auto& [name, mode] = GetParam();
  const std::string binary = std::string(XLSTM_BINARY_DIR) + "/bin/xlstm-run";
  if (!fs::exists(binary)) GTEST_SKIP() << "xlstm-run is not built";
  const std::string dir = testing::reference_dir(name);
  const std::string out =
      (fs::temp_directory_path() / ("xlstm_run_" + name + "_" + mode + ".safetensors")).string();
  const std::string command = binary + " --config " + dir + "/config.yaml --weights " + dir +
                              "/tensors.safetensors --weights-prefix state. --input " + dir +
                              "/tensors.safetensors --output " + out + " --mode " + mode +
                              " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto reference = io::load_safetensors(dir + "/tensors.safetensors");
  const auto output = io::load_safetensors(out).at("output");
  fs::remove(out);
  EXPECT_LE(testing::max_rel_diff(output, reference.at(mode == "step" ? "step_output" : "output")),
            1e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, XlstmRunCli,
                         ::testing::Combine(::testing::Values("slstm_stack_small", "lm_tied",
                                                              "lm_parity_xlstm11"),
                                            ::testing::Values("forward", "step", "chunkwise")));

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
