// A full disk, on a tiny tmpfs (root only; skipped otherwise): found before the first step when
// it is full from the start; a failed metrics.jsonl or checkpoint write ends the run with an
// error naming the file, leaves whole lines and no half-written checkpoint, and the previous
// checkpoint still resumes.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "io/temp_dir.h"
#include "training/trainer_support.h"
#include "xlstm/training/checkpoint.h"
#include "xlstm/training/trainer.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

using io::testing::TempDir;
using testing::quiet_options;
using testing::read_metrics;
using testing::tiny_parity;

/// A tmpfs of `size` mounted on a temporary directory while it lives.
class TinyDisk {
 public:
  explicit TinyDisk(const std::string& size) {
    if (::geteuid() != 0) {
      why_not_ = "needs root to mount a tmpfs";
      return;
    }
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) {
      why_not_ = std::string("cannot mount a tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~TinyDisk() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  const std::string& why_not() const { return why_not_; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  /// Fills the disk with `filler` until a write fails for want of space.
  void fill() const {
    const int fd = ::open(file("filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const std::string chunk(4096, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
  }
  void free_space() const { fs::remove(file("filler")); }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string why_not_;
};

/// Trains `steps` in `out` (resuming) and returns what it threw ("" for nothing); `fill_after` >
/// 0: the disk is filled after that step.
std::string train_until_full(const TinyDisk& disk, const std::string& out, int steps,
                             int fill_after, int64_t log_every, int64_t checkpoint_every) {
  auto options = quiet_options(out, log_every);
  options.resume = true;
  options.checkpoint_every = checkpoint_every;
  int step = 0;
  options.stop_requested = [&] {
    if (++step == fill_after) disk.fill();
    return false;
  };
  try {
    Trainer(tiny_parity(steps), options).train();
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

TEST(FullDisk, IsFoundBeforeTheFirstStep) {
  TinyDisk disk("512k");
  if (!disk.why_not().empty()) GTEST_SKIP() << disk.why_not();
  disk.fill();
  const auto error = train_until_full(disk, disk.file("run"), 1000, 0, 1, 0);
  EXPECT_NE(error.find("output directory '" + disk.file("run") + "' is not writable"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
}

TEST(FullDisk, FailedMetricsWriteEndsTheRunAndTheCheckpointResumes) {
  TinyDisk disk("1m");
  if (!disk.why_not().empty()) GTEST_SKIP() << disk.why_not();
  const auto out = disk.file("run");
  ASSERT_EQ(train_until_full(disk, out, 2, 0, 1, 0), "");
  const auto error = train_until_full(disk, out, 50, 3, 1, 0);
  EXPECT_NE(error.find("cannot write '" + out + "/metrics.jsonl': No space left on device"),
            std::string::npos)
      << error;
  disk.free_space();
  // Whole lines only (the page the file had last takes some lines more before the disk is full).
  const auto text = io::testing::read_bytes(out + "/metrics.jsonl");
  EXPECT_EQ(text.back(), '\n');
  const auto lines = read_metrics(out + "/metrics.jsonl");  // a line that is not JSON fails here
  ASSERT_GT(lines.size(), 2u);
  EXPECT_LT(testing::number(lines.back(), "step"), 50);
  auto options = quiet_options(out, 1);
  options.resume = true;
  EXPECT_EQ(Trainer(tiny_parity(4), options).train().first_step, 2);
}

TEST(FullDisk, FailedCheckpointLeavesNothingHalfWritten) {
  TinyDisk disk("1m");
  if (!disk.why_not().empty()) GTEST_SKIP() << disk.why_not();
  const auto out = disk.file("run");
  ASSERT_EQ(train_until_full(disk, out, 2, 0, 1, 0), "");
  const auto error = train_until_full(disk, out, 50, 2, 1000, 4);
  EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
  EXPECT_EQ(checkpoint_directories(out + "/checkpoints"),
            std::vector<std::string>{"step_00000002"});
  EXPECT_EQ(io::subdirectories(out + "/checkpoints").size(), 1u) << "a temporary directory is left";
  disk.free_space();
  auto options = quiet_options(out, 1);
  options.resume = true;
  EXPECT_EQ(Trainer(tiny_parity(5), options).train().first_step, 2);
}

}  // namespace
}  // namespace xlstm
