// The writers never replace an input of the run (under any name) nor anything but a regular file.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "io/append_file.h"
#include "io/atomic_file.h"
#include "io/temp_dir.h"
#include "xlstm/io/output_path.h"
#include "xlstm/io/state_dict.h"

namespace xlstm::io {
namespace {

using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

/// What save_safetensors to `path` throws ("" when it writes).
std::string save_error(const std::string& path) {
  try {
    save_safetensors(path, {{"output", torch::ones({2})}});
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

TEST(OutputPath, AnInputIsNotOverwrittenUnderAnyName) {
  TempDir dir;
  const auto input = dir.file("in.safetensors");
  save_safetensors(input, {{"input", torch::zeros({3})}});
  const auto before = read_bytes(input);
  protect_input(input);
  std::filesystem::create_hard_link(input, dir.file("link.safetensors"));
  std::filesystem::create_directories(dir.file("sub"));

  EXPECT_NE(save_error(input).find("it is an input of this run: refusing to overwrite it"),
            std::string::npos)
      << save_error(input);
  const auto through_link = save_error(dir.file("link.safetensors"));
  EXPECT_NE(through_link.find("the same file as the input '" + input + "'"), std::string::npos)
      << through_link;
  const auto other_path = dir.file("sub/../in.safetensors");
  EXPECT_NE(save_error(other_path).find("refusing to overwrite it"), std::string::npos);
  EXPECT_EQ(read_bytes(input), before);
  EXPECT_EQ(save_error(dir.file("other.safetensors")), "");  // any other place is fine
}

TEST(OutputPath, OnlyARegularFileIsReplaced) {
  TempDir dir;
  write_bytes(dir.file("target"), "keep me");
  std::filesystem::create_symlink(dir.file("target"), dir.file("symlink.safetensors"));
  ASSERT_EQ(::mkfifo(dir.file("fifo.safetensors").c_str(), 0600), 0);
  std::filesystem::create_directories(dir.file("dir.safetensors"));

  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir.file("symlink.safetensors"), "it is a symbolic link, not a regular file"},
      {dir.file("fifo.safetensors"), "it is a FIFO, not a regular file"},
      {dir.file("dir.safetensors"), "it is a directory, not a regular file"},
      {"/dev/null", "it is a character device, not a regular file"},
      {dir.file("missing/out.safetensors"),
       "its directory '" + dir.file("missing") + "' does not exist"}};
  for (const auto& [path, expected] : cases)
    EXPECT_NE(save_error(path).find(expected), std::string::npos)
        << path << ": " << save_error(path);
  EXPECT_EQ(read_bytes(dir.file("target")), "keep me");
  EXPECT_TRUE(std::filesystem::is_symlink(dir.file("symlink.safetensors")));
  EXPECT_TRUE(std::filesystem::is_fifo(dir.file("fifo.safetensors")));
  EXPECT_THROW(save_pt(dir.file("fifo.safetensors"), {{"x", torch::ones({1})}}),
               std::runtime_error);
  EXPECT_THROW(write_file_atomically(dir.file("symlink.safetensors"), "x"), std::runtime_error);
}

TEST(AppendFile, WritesWholeLinesAndRefusesALink) {
  TempDir dir;
  {
    AppendFile file(dir.file("metrics.jsonl"));
    file.write("{\"a\": 1}\n");
  }
  AppendFile(dir.file("metrics.jsonl")).write("{\"b\": 2}\n");
  EXPECT_EQ(read_bytes(dir.file("metrics.jsonl")), "{\"a\": 1}\n{\"b\": 2}\n");
  std::filesystem::create_symlink(dir.file("metrics.jsonl"), dir.file("link.jsonl"));
  try {
    AppendFile file(dir.file("link.jsonl"));
    FAIL() << "a symbolic link was opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("a symbolic link"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xlstm::io
