// xlstm-run with hostile files: the output never replaces an input (same path, a hard link, the
// config) nor anything but a regular file; NaN in weights or inputs is refused naming the tensor
// and the index; a non-finite output exits with 3; token ids outside the vocabulary and empty
// sequences are named. The fixtures are copied first, so a failure cannot destroy them.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <limits>

#include "apps/binaries.h"
#include "io/temp_dir.h"
#include "support/fixtures.h"
#include "xlstm/io/safetensors.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

using io::testing::read_bytes;
using io::testing::TempDir;
using testing::binary_path;
using testing::binary_built;
using testing::run_command;

/// A copy of a reference fixture (config.yaml, tensors.safetensors) in a temporary directory.
class Fixture {
 public:
  explicit Fixture(const std::string& name) {
    for (const char* file : {"config.yaml", "tensors.safetensors"})
      fs::copy_file(testing::reference_dir(name) + "/" + file, dir_.file(file));
  }
  std::string file(const std::string& name) const { return dir_.file(name); }
  std::string config() const { return file("config.yaml"); }
  std::string tensors() const { return file("tensors.safetensors"); }
  /// xlstm-run with the fixture's config and weights (prefix "state.").
  std::string run(const std::string& input, const std::string& output,
                  const std::string& extra = "") const {
    return binary_path("xlstm-run") + " --config " + config() + " --weights " + tensors() +
           " --weights-prefix state. --input " + input + " --output " + output + " " + extra;
  }

 private:
  TempDir dir_;
};

void expect_result(const std::string& command, int code, const std::string& message) {
  const auto result = run_command(command);
  EXPECT_EQ(result.exit_code, code) << command << "\n" << result.output;
  EXPECT_NE(result.output.find(message), std::string::npos) << command << "\n" << result.output;
}

TEST(XlstmRunSafety, OutputNeverReplacesAnInput) {
  if (!binary_built("xlstm-run")) GTEST_SKIP() << "xlstm-run is not built";
  Fixture lm("lm_tied");
  const auto before = read_bytes(lm.tensors());
  const auto config_before = read_bytes(lm.config());
  fs::create_hard_link(lm.tensors(), lm.file("link.safetensors"));
  expect_result(lm.run(lm.tensors(), lm.tensors()), 1,
                "cannot write '" + lm.tensors() + "': it is an input of this run");
  expect_result(lm.run(lm.tensors(), lm.file("link.safetensors")), 1,
                "it is the same file as the input '" + lm.tensors() + "'");
  expect_result(lm.run(lm.tensors(), lm.config()), 1, "it is an input of this run");
  EXPECT_EQ(read_bytes(lm.tensors()), before);
  EXPECT_EQ(read_bytes(lm.config()), config_before);
}

TEST(XlstmRunSafety, OutputMustBeARegularFile) {
  if (!binary_built("xlstm-run")) GTEST_SKIP() << "xlstm-run is not built";
  Fixture lm("lm_tied");
  io::testing::write_bytes(lm.file("target"), "keep");
  fs::create_symlink(lm.file("target"), lm.file("symlink.safetensors"));
  ASSERT_EQ(::mkfifo(lm.file("fifo.safetensors").c_str(), 0600), 0);
  expect_result(lm.run(lm.tensors(), lm.file("symlink.safetensors")), 1,
                "it is a symbolic link, not a regular file: refusing to replace it");
  expect_result(lm.run(lm.tensors(), lm.file("fifo.safetensors")), 1, "it is a FIFO");
  expect_result(lm.run(lm.tensors(), "/dev/null"), 1, "it is a character device");
  EXPECT_EQ(read_bytes(lm.file("target")), "keep");
  EXPECT_TRUE(fs::is_fifo(lm.file("fifo.safetensors")));
  expect_result(lm.run(lm.tensors(), lm.file("out.safetensors")), 0, "wrote");
}

TEST(XlstmRunSafety, NonFiniteWeightsAndInputsAreRefusedByName) {
  if (!binary_built("xlstm-run")) GTEST_SKIP() << "xlstm-run is not built";
  Fixture lm("lm_tied");
  auto tensors = io::load_safetensors(lm.tensors());
  const std::string name = "xlstm_block_stack.blocks.0.xlstm.fgate.weight";  // [2, 24, 24]
  tensors.at("state." + name).index_put_({1, 2, 3}, std::numeric_limits<float>::quiet_NaN());
  io::save_safetensors(lm.file("nan.safetensors"), tensors);
  const std::string run = binary_path("xlstm-run") + " --config " + lm.config() + " --weights " +
                          lm.file("nan.safetensors") + " --weights-prefix state. --input " +
                          lm.tensors() + " --output " + lm.file("out.safetensors");
  expect_result(run, 1,
                "weights '" + lm.file("nan.safetensors") + "': tensor '" + name +
                    "' holds 1 non-finite value, the first nan at [1, 2, 3] (refused; "
                    "--allow-nonfinite takes it)");
  EXPECT_FALSE(fs::exists(lm.file("out.safetensors")));
  expect_result(run + " --allow-nonfinite", 0, "xlstm-run: warning: output '");

  Fixture stack("slstm_stack_small");
  auto input = io::load_safetensors(stack.tensors()).at("input");
  input.index_put_({0, 1, 2}, std::numeric_limits<float>::infinity());
  io::save_safetensors(stack.file("in.safetensors"), {{"input", input}});
  expect_result(stack.run(stack.file("in.safetensors"), stack.file("out.safetensors")), 1,
                "input '" + stack.file("in.safetensors") +
                    "': tensor 'input' holds 1 non-finite value, the first inf at [0, 1, 2]");
}

TEST(XlstmRunSafety, NonFiniteOutputExitsWithThree) {
  if (!binary_built("xlstm-run")) GTEST_SKIP() << "xlstm-run is not built";
  Fixture stack("slstm_stack_small");
  // Finite inputs whose sums overflow float32.
  const auto input = io::load_safetensors(stack.tensors()).at("input");
  io::save_safetensors(stack.file("huge.safetensors"), {{"input", torch::full_like(input, 3e38)}});
  const auto command = stack.run(stack.file("huge.safetensors"), stack.file("out.safetensors"));
  expect_result(command, 3,
                "xlstm-run: warning: output '" + stack.file("out.safetensors") + "' holds ");
  expect_result(command, 3, "(exit code 3; --allow-nonfinite: 0)");
  expect_result(command + " --allow-nonfinite", 0, "non-finite value");
}

TEST(XlstmRunSafety, TokenIdsAndEmptySequencesAreNamed) {
  if (!binary_built("xlstm-run")) GTEST_SKIP() << "xlstm-run is not built";
  Fixture lm("lm_tied");  // vocab_size 97
  io::save_safetensors(lm.file("ids.safetensors"),
                       {{"input", torch::tensor({{1, 2, 97, 3}}, torch::kLong)}});
  expect_result(lm.run(lm.file("ids.safetensors"), lm.file("out.safetensors")), 1,
                "input 'input' of " + lm.file("ids.safetensors") +
                    " (shape [1, 4]): token id 97 at [0, 2] is outside the vocabulary (vocab_size "
                    "97: ids 0 .. 96)");
  io::save_safetensors(lm.file("neg.safetensors"),
                       {{"input", torch::tensor({{5}, {-1}}, torch::kLong)}});
  expect_result(lm.run(lm.file("neg.safetensors"), lm.file("out.safetensors")), 1,
                "token id -1 at [1, 0]");
  io::save_safetensors(lm.file("empty.safetensors"),
                       {{"input", torch::zeros({1, 0}, torch::kLong)}});
  expect_result(lm.run(lm.file("empty.safetensors"), lm.file("out.safetensors")), 1,
                "(shape [1, 0]): the sequence is empty (length 0)");
  Fixture stack("slstm_stack_small");
  io::save_safetensors(stack.file("empty.safetensors"), {{"input", torch::zeros({2, 0, 32})}});
  expect_result(stack.run(stack.file("empty.safetensors"), stack.file("out.safetensors")), 1,
                "the sequence is empty (length 0)");
}

}  // namespace
}  // namespace xlstm
