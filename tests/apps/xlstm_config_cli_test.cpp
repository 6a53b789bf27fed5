// xlstm-config FILE --kind: the kind picks how the file is read, whatever auto would choose.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/run_binary.h"

namespace xlstm {
namespace {

const std::string kConfigs = std::string(XLSTM_SOURCE_DIR) + "/configs/";

// readme_lm.yaml is an LM model: auto and --kind lm resolve it (vocab_size and the derived
// block map printed back); --kind stack reads it as a block stack, where vocab_size is unknown.
TEST(XlstmConfigCli, KindChoosesHowTheFileIsRead) {
  if (!testing::binary_built("xlstm-config")) GTEST_SKIP() << "xlstm-config is not built";
  for (const std::string kind : {"auto", "lm"}) {
    const auto run =
        testing::run_binary("xlstm-config", kConfigs + "readme_lm.yaml --kind " + kind);
    EXPECT_EQ(run.exit_code, 0) << run;
    EXPECT_TRUE(run.printed("vocab_size: 50304")) << run;
    EXPECT_TRUE(run.printed("_block_map: 0,1,0,0,0,0,0")) << run;
  }
  const auto as_stack =
      testing::run_binary("xlstm-config", kConfigs + "readme_lm.yaml --kind stack");
  EXPECT_EQ(as_stack.exit_code, 1) << as_stack;
  EXPECT_TRUE(as_stack.printed("vocab_size: unknown key")) << as_stack;
}

// An experiment file read as --kind experiment prints its three sections; as --kind lm it fails
// on the first section name.
TEST(XlstmConfigCli, ExperimentKind) {
  if (!testing::binary_built("xlstm-config")) GTEST_SKIP() << "xlstm-config is not built";
  const auto run =
      testing::run_binary("xlstm-config", kConfigs + "parity_xlstm11.yaml --kind experiment");
  EXPECT_EQ(run.exit_code, 0) << run;
  for (const std::string section : {"training:", "model:", "dataset:"})
    EXPECT_TRUE(run.printed(section)) << section << "\n" << run;
  const auto as_lm =
      testing::run_binary("xlstm-config", kConfigs + "parity_xlstm11.yaml --kind lm");
  EXPECT_EQ(as_lm.exit_code, 1) << as_lm;
  EXPECT_TRUE(as_lm.printed("unknown key")) << as_lm;
}

TEST(XlstmConfigCli, UnknownKindIsRefusedWithTheChoices) {
  if (!testing::binary_built("xlstm-config")) GTEST_SKIP() << "xlstm-config is not built";
  const auto run = testing::run_binary("xlstm-config", kConfigs + "readme_lm.yaml --kind huge");
  EXPECT_NE(run.exit_code, 0) << run;
  EXPECT_TRUE(run.printed("--kind")) << run;
  EXPECT_TRUE(run.printed("huge")) << run;
}

}  // namespace
}  // namespace xlstm
