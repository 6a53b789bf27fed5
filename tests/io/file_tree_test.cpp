#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "io/file_tree.h"
#include "io/temp_dir.h"

namespace xlstm::io {
namespace {

using testing::TempDir;
using testing::write_bytes;
namespace fs = std::filesystem;

TEST(FileTree, RemoveTreeRemovesNestedEntriesButNotLinkTargets) {
  TempDir dir, outside;
  write_bytes(outside.file("keep.txt"), "keep");
  fs::create_directories(dir.path() / "a" / "b" / "c");
  write_bytes(dir.file("a/one.bin"), "1");
  write_bytes(dir.file("a/b/c/two.bin"), "22");
  ASSERT_EQ(::symlink(outside.path().c_str(), dir.file("a/b/link").c_str()), 0);

  remove_tree(dir.file("a"));
  EXPECT_FALSE(fs::exists(dir.path() / "a"));
  EXPECT_TRUE(fs::exists(outside.path() / "keep.txt"));  // the link, not its target
  remove_tree(dir.file("a"));                            // gone already: nothing to do
}

TEST(FileTree, SubdirectoriesListsDirectoriesOnly) {
  TempDir dir;
  fs::create_directories(dir.path() / "step_1");
  fs::create_directories(dir.path() / "step_2");
  write_bytes(dir.file("latest.json"), "{}");
  auto names = subdirectories(dir.path().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step_1", "step_2"}));
  EXPECT_THROW(subdirectories(dir.file("missing")), std::runtime_error);
}

TEST(FileTree, RegularFilesListsFilesAtAnyDepthSortedWithoutLinks) {
  TempDir dir, outside;
  write_bytes(outside.file("elsewhere.txt"), "x");
  fs::create_directories(dir.path() / "b" / "c");
  write_bytes(dir.file("b/c/deep.txt"), "1");
  write_bytes(dir.file("a.txt"), "2");
  write_bytes(dir.file("b/z.txt"), "3");
  ASSERT_EQ(::symlink(dir.file("a.txt").c_str(), dir.file("link.txt").c_str()), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), dir.file("b/linked_dir").c_str()), 0);
  const std::string root = dir.path().string();
  EXPECT_EQ(regular_files(root),
            (std::vector<std::string>{root + "/a.txt", root + "/b/c/deep.txt", root + "/b/z.txt"}));
  EXPECT_THROW(regular_files(dir.file("missing")), std::runtime_error);
}

}  // namespace
}  // namespace xlstm::io
