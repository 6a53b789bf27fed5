// xlstm-tokenize: ids of a text (as tokenizers gives them,
// tests/data/large/tokenizer_encodings.json) from --text, --file or a checkpoint directory;
// --decode back; errors named with exit codes 1 / 2.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/temp_dir.h"
#include "support/run_binary.h"

namespace xlstm {
namespace {

const std::string kLarge = std::string(XLSTM_SOURCE_DIR) + "/tests/data/large/";
const std::string kTokenizer = "--tokenizer " + kLarge + "tokenizer.json";

// "Hello world" and "special <|endoftext|> inside text" as tokenizers encodes them.
const std::string kHelloIds = "41 314 290 288 273 77 69";
const std::string kSpecialIds = "84 401 425 222 0 298 84 350 70 282 438";

TEST(XlstmTokenizeCli, EncodesTextLikeTokenizers) {
  if (!testing::binary_built("xlstm-tokenize")) GTEST_SKIP() << "xlstm-tokenize is not built";
  auto run = testing::run_binary("xlstm-tokenize", kTokenizer + " --text 'Hello world'");
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_EQ(run.output, kHelloIds + "\n") << run;
  run = testing::run_binary("xlstm-tokenize",
                            kTokenizer + " --text 'special <|endoftext|> inside text'");
  EXPECT_EQ(run.output, kSpecialIds + "\n") << run;
  // A directory holding tokenizer.json (a checkpoint directory) works the same.
  run = testing::run_binary("xlstm-tokenize", "--tokenizer " + kLarge + " --text 'Hello world'");
  EXPECT_EQ(run.output, kHelloIds + "\n") << run;
  run = testing::run_binary("xlstm-tokenize", kTokenizer + " --text ''");
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_EQ(run.output, "\n") << run;
}

TEST(XlstmTokenizeCli, EncodesAFileAndDecodes) {
  if (!testing::binary_built("xlstm-tokenize")) GTEST_SKIP() << "xlstm-tokenize is not built";
  io::testing::TempDir dir;
  const std::string path = dir.file("text.txt");
  io::testing::write_bytes(path, "Hello world");
  auto run = testing::run_binary("xlstm-tokenize", kTokenizer + " --file " + path);
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_EQ(run.output, kHelloIds + "\n") << run;
  run = testing::run_binary("xlstm-tokenize", kTokenizer + " --decode '" + kHelloIds + "'");
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_EQ(run.output, "Hello world\n") << run;
  run = testing::run_binary("xlstm-tokenize", kTokenizer + " --decode '" + kSpecialIds + "'");
  EXPECT_EQ(run.output, "special  inside text\n") << run;
  run = testing::run_binary("xlstm-tokenize",
                            kTokenizer + " --special --decode '" + kSpecialIds + "'");
  EXPECT_EQ(run.output, "special <|endoftext|> inside text\n") << run;
}

TEST(XlstmTokenizeCli, ErrorsAreNamed) {
  if (!testing::binary_built("xlstm-tokenize")) GTEST_SKIP() << "xlstm-tokenize is not built";
  auto run = testing::run_binary("xlstm-tokenize", kTokenizer + " --decode '44 503'");
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("xlstm-tokenize: --decode: '503' is not a token id in 0..502")) << run;
  run = testing::run_binary("xlstm-tokenize", kTokenizer + " --decode '44 x1'");
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("--decode: 'x1' is not a token id")) << run;
  run = testing::run_binary("xlstm-tokenize", kTokenizer + " --file /nonexistent/text.txt");
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("/nonexistent/text.txt")) << run;
  run = testing::run_binary("xlstm-tokenize", "--tokenizer /nonexistent --text hi");
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("/nonexistent")) << run;
  run = testing::run_binary("xlstm-tokenize", "--tokenizer " + kLarge + "report.txt --text hi");
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("report.txt: JSON:")) << run;
  run = testing::run_binary("xlstm-tokenize", kTokenizer + " --text $(printf 'a\\377')");
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("not valid UTF-8 at byte 1")) << run;
  const std::pair<std::string, std::string> usage[] = {
      {"--text a --file /dev/null", "--text excludes --file"},
      {"--decode 1 --file /dev/null", "--file excludes --decode"},
      {"", "give one of --text, --file, --decode"},
  };
  for (const auto& [inputs, message] : usage) {
    run = testing::run_binary("xlstm-tokenize", kTokenizer + " " + inputs);
    EXPECT_EQ(run.exit_code, 2) << run;
    EXPECT_TRUE(run.printed("xlstm-tokenize: " + message)) << run;
  }
}

}  // namespace
}  // namespace xlstm
