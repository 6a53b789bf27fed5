// The trainer's output directory: one trainer at a time, checkpoints it did not write are never
// deleted, resume recovers from the newest intact step directory when latest.json is lost (or says
// what is there), a resume with nothing to do changes no file, and unwritable places are found
// before the first step.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "io/file_tree.h"
#include "io/temp_dir.h"
#include "training/run_dir.h"
#include "training/trainer_support.h"
#include "xlstm/training/checkpoint.h"
#include "xlstm/training/trainer.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

using io::testing::read_bytes;
using io::testing::TempDir;
using testing::quiet_options;
using testing::read_metrics;
using testing::tiny_parity;

std::string checkpoints(const TempDir& dir) {
  return dir.file("checkpoints");
}

/// Copies the files of a step directory (io::regular_files: no std::filesystem directory walk).
void copy_step(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& file : io::regular_files(from))
    fs::copy_file(file, to + "/" + fs::path(file).filename().string());
}

TrainSummary train(const TempDir& dir, int steps, bool resume = false, int64_t every = 0) {
  auto options = quiet_options(dir.path().string(), 1);
  options.resume = resume;
  options.checkpoint_every = every;
  return Trainer(tiny_parity(steps), options).train();
}

/// What `train` throws ("" when it does not).
std::string train_error(const TempDir& dir, int steps, bool resume) {
  try {
    train(dir, steps, resume);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

/// Every file below `dir` with its bytes and modification time (the lock file left out: it records
/// the last holder).
std::map<std::string, std::pair<std::string, int64_t>> snapshot(const TempDir& dir) {
  std::map<std::string, std::pair<std::string, int64_t>> files;
  for (const auto& path : io::regular_files(dir.path().string())) {
    if (fs::path(path).filename() == ".xlstm-train.lock") continue;
    struct stat info {};
    ::stat(path.c_str(), &info);
    files[path] = {read_bytes(path),
                   int64_t{info.st_mtim.tv_sec} * 1000000000 + info.st_mtim.tv_nsec};
  }
  return files;
}

TEST(RunDir, SecondTrainerIsRefusedNamingThePid) {
  TempDir dir;
  RunDirLock holder(dir.path().string());  // as a trainer running there holds it
  const auto error = train_error(dir, 2, false);
  EXPECT_NE(error.find("is in use by another trainer (pid " + std::to_string(::getpid())),
            std::string::npos)
      << error;
  EXPECT_FALSE(fs::exists(dir.file("metrics.jsonl")));
}

TEST(RunDir, LockIsReleasedWithItsHolder) {
  TempDir dir;
  { RunDirLock first(dir.path().string()); }
  EXPECT_NO_THROW(RunDirLock(dir.path().string()));
  EXPECT_EQ(train(dir, 1).steps, 1);
}

TEST(RunDir, CheckpointsWithoutResumeAreRefusedAndKept) {
  // The case that lost data: latest.json gone, step directories intact, a run without --resume.
  TempDir dir;
  train(dir, 2);
  fs::remove(checkpoints(dir) + "/latest.json");
  const auto before = snapshot(dir);
  const auto error = train_error(dir, 4, false);
  EXPECT_NE(error.find("already holds checkpoints (step_00000002): use --resume to continue them, "
                       "or another --out"),
            std::string::npos)
      << error;
  EXPECT_EQ(snapshot(dir), before);
}

TEST(RunDir, ResumeRecoversFromTheNewestIntactStepDirectory) {
  TempDir dir, copy;
  train(dir, 2);
  copy_step(checkpoints(dir) + "/step_00000002", copy.file("step_00000002"));
  train(dir, 4, /*resume=*/true);
  copy_step(copy.file("step_00000002"), checkpoints(dir) + "/step_00000002");
  // latest.json lost, the newest step directory truncated: step 2 is the newest intact one.
  fs::remove(checkpoints(dir) + "/latest.json");
  const auto weights = checkpoints(dir) + "/step_00000004/model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) - 3);

  std::ostringstream log;
  auto options = quiet_options(dir.path().string(), 1);
  options.resume = true;
  options.log = &log;
  const auto summary = Trainer(tiny_parity(6), options).train();
  EXPECT_EQ(summary.first_step, 2);
  EXPECT_EQ(summary.steps, 6);
  EXPECT_NE(log.str().find("no latest.json: resuming from the newest intact step directory "
                           "step_00000002 (verified by its manifest.json); not intact: "
                           "step_00000004: checkpoint file"),
            std::string::npos)
      << log.str();
  EXPECT_TRUE(fs::exists(checkpoints(dir) + "/step_00000006"));
  EXPECT_TRUE(fs::exists(weights)) << "a checkpoint this run did not write was removed";
  EXPECT_FALSE(fs::exists(checkpoints(dir) + "/step_00000002"));  // the one it continued
}

TEST(RunDir, MissingManifestsAreNamed) {
  TempDir dir;
  train(dir, 2);
  fs::remove(checkpoints(dir) + "/latest.json");
  fs::remove(checkpoints(dir) + "/step_00000002/manifest.json");
  const auto before = snapshot(dir);
  const auto error = train_error(dir, 4, true);
  EXPECT_NE(error.find("cannot resume from '" + checkpoints(dir) +
                       "': no latest.json and no step directory is intact: step_00000002: no "
                       "manifest.json"),
            std::string::npos)
      << error;
  EXPECT_EQ(snapshot(dir), before);
}

TEST(RunDir, BrokenLatestJsonFallsBackToTheStepManifest) {
  TempDir dir;
  train(dir, 2);
  io::testing::write_bytes(checkpoints(dir) + "/latest.json", "{\"checkpoint\": ");
  EXPECT_EQ(train(dir, 3, true).first_step, 2);
}

TEST(RunDir, NothingToDoLeavesEveryFileAlone) {
  TempDir dir;
  train(dir, 4);
  const auto before = snapshot(dir);
  for (int steps : {4, 3}) {
    const auto summary = train(dir, steps, true);
    EXPECT_TRUE(summary.nothing_to_do) << steps;
    EXPECT_EQ(summary.steps, 4);
    EXPECT_EQ(snapshot(dir), before) << "--steps " << steps;
  }
}

TEST(RunDir, UnwritableCheckpointsAreFoundBeforeTheFirstStep) {
  TempDir dir;
  io::testing::write_bytes(checkpoints(dir), "a file where the checkpoints directory goes");
  const auto error = train_error(dir, 1000, false);
  EXPECT_NE(error.find("output directory '" + checkpoints(dir) + "' is not writable"),
            std::string::npos)
      << error;
  EXPECT_TRUE(read_metrics(dir.file("metrics.jsonl")).empty()) << "a step ran";
}

TEST(RunDir, ReadOnlyOutputIsFoundBeforeTheFirstStep) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into a read-only directory";
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  const auto error = train_error(dir, 1000, false);
  fs::permissions(dir.path(), fs::perms::owner_all);
  EXPECT_NE(error.find("not writable"), std::string::npos) << error;
}

TEST(RunDir, RotationRemovesOnlyThisRunsCheckpoints) {
  TempDir dir, copy;
  train(dir, 2);
  copy_step(checkpoints(dir) + "/step_00000002", copy.file("step_00000002"));
  train(dir, 4, true);
  // An older intact checkpoint that this run neither wrote nor continues.
  copy_step(copy.file("step_00000002"), checkpoints(dir) + "/step_00000002");
  train(dir, 8, true, /*every=*/2);
  EXPECT_EQ(checkpoint_directories(checkpoints(dir)),
            (std::vector<std::string>{"step_00000002", "step_00000008"}));
}

}  // namespace
}  // namespace xlstm
