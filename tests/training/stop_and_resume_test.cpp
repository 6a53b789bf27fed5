// Fault injection on the xlstm-train binary: SIGINT stops a run cleanly (checkpoint, summary, the
// command that resumes, exit code 130) and the resumed run ends with the weights of an
// uninterrupted one; SIGKILL at random moments while checkpoints are written every step never
// leaves a run that cannot resume; with 2 Gloo ranks a SIGINT to the launcher stops them all, and
// so does killing the launcher.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "apps/binaries.h"
#include "io/temp_dir.h"
#include "training/trainer_support.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/training/checkpoint.h"

namespace xlstm {
namespace {

using io::testing::TempDir;
using testing::BackgroundCommand;
using testing::binary_built;
using testing::binary_path;
using testing::file_text;
using testing::run_command;
using testing::wait_until;

/// Runs of the tiny parity experiment in one temporary directory.
class TrainRuns {
 public:
  explicit TrainRuns(int steps, double dropout = 0.0) {
    std::ofstream(config()) << testing::tiny_parity_yaml(steps, dropout);
  }
  std::string config() const { return tmp_.file("tiny.yaml"); }
  std::string out(const std::string& name) const { return tmp_.file(name); }
  std::string log(const std::string& name) const { return tmp_.file(name + ".log"); }
  std::string command(const std::string& name, const std::string& extra = "") const {
    return binary_path("xlstm-train") + " --config " + config() +
           " --log-every 1 --dist-timeout 20 --out " + out(name) +
           (extra.empty() ? "" : " " + extra);
  }
  /// The metrics lines of run `name` so far.
  size_t steps_logged(const std::string& name) const {
    std::ifstream in(out(name) + "/metrics.jsonl");
    size_t lines = 0;
    for (std::string line; std::getline(in, line);)
      lines += line.rfind("{\"step\"", 0) == 0 ? 1 : 0;
    return lines;
  }
  io::TensorMap final_weights(const std::string& name) const {
    const auto checkpoint = latest_checkpoint(out(name) + "/checkpoints");
    EXPECT_TRUE(checkpoint) << name << " has no checkpoint";
    return checkpoint ? io::load_safetensors(*checkpoint + "/model.safetensors") : io::TensorMap{};
  }

 private:
  TempDir tmp_;
};

/// Every tensor within `tolerance` of the reference, relative to the reference's largest value.
void expect_equal_weights(const io::TensorMap& ours, const io::TensorMap& reference,
                          double tolerance) {
  ASSERT_EQ(ours.size(), reference.size());
  ASSERT_FALSE(reference.empty());
  for (const auto& [name, tensor] : reference) {
    const double difference = (ours.at(name) - tensor).abs().max().item<double>();
    EXPECT_LE(difference, tolerance * tensor.abs().max().item<double>()) << name;
  }
}

/// The command after "to resume: " in a log.
std::string resume_command(const std::string& log) {
  const std::string marker = "xlstm-train: to resume: ";
  const auto at = log.find(marker);
  if (at == std::string::npos) return "";
  return log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
}

/// Starts run `name`, waits until it logged `steps` steps, sends `signal_number`; its exit code.
int interrupt(const TrainRuns& runs, const std::string& name, const std::string& extra,
              size_t steps, int signal_number) {
  BackgroundCommand run(runs.command(name, extra), runs.log(name));
  const bool started =
      wait_until([&] { return runs.steps_logged(name) >= steps; }, std::chrono::seconds(60));
  EXPECT_TRUE(started) << file_text(runs.log(name));
  run.signal(signal_number);
  return run.wait(std::chrono::seconds(60));
}

TEST(StopAndResume, SigintThenResumeEqualsAnUninterruptedRun) {
  if (!binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TrainRuns runs(300, /*dropout=*/0.1);  // dropout: the resumed run needs the RNG state too
  const auto reference = run_command(runs.command("full"));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  ASSERT_EQ(interrupt(runs, "stopped", "", 3, SIGINT), 130) << file_text(runs.log("stopped"));
  const auto log = file_text(runs.log("stopped"));
  EXPECT_NE(log.find("xlstm-train: stopped by SIGINT after step "), std::string::npos) << log;
  const auto command = resume_command(log);
  EXPECT_EQ(command, runs.command("stopped") + " --resume") << log;
  const auto summary = file_text(runs.out("stopped") + "/summary.json");
  EXPECT_NE(summary.find("\"stopped\": true"), std::string::npos) << summary;

  const auto resumed = run_command(command);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_equal_weights(runs.final_weights("stopped"), runs.final_weights("full"), 0.0);
  const auto loss = [&](const std::string& name) {
    const auto json = file_text(runs.out(name) + "/summary.json");
    return json.substr(json.find("\"loss\""), 30);
  };
  EXPECT_EQ(loss("stopped"), loss("full"));
}

TEST(StopAndResume, SigkillWhileCheckpointingEveryStepAlwaysResumes) {
  if (!binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TrainRuns runs(60);
  const auto reference = run_command(runs.command("full"));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  const auto seed =
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 random(seed);
  for (int kill = 0; kill < 4; ++kill) {
    BackgroundCommand run(runs.command("killed", "--resume --checkpoint-every 1"),
                          runs.log("killed"));
    const size_t before = runs.steps_logged("killed");
    wait_until([&] { return runs.steps_logged("killed") > before; }, std::chrono::seconds(60));
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 30000));
    run.signal(SIGKILL);
    const int code = run.wait(std::chrono::seconds(60));
    EXPECT_TRUE(code == 128 + SIGKILL || code == 0)
        << "seed " << seed << ": exit code " << code << "\n"
        << file_text(runs.log("killed"));
  }
  const auto finished = run_command(runs.command("killed", "--resume"));
  ASSERT_EQ(finished.exit_code, 0) << "seed " << seed << ":\n" << finished.output;
  expect_equal_weights(runs.final_weights("killed"), runs.final_weights("full"), 0.0);
}

TEST(StopAndResume, SigintToTheLauncherStopsEveryRank) {
  if (!binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TrainRuns runs(60);
  const auto reference = run_command(runs.command("one"));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  ASSERT_EQ(interrupt(runs, "two", "--nproc-per-node 2", 3, SIGINT), 130)
      << file_text(runs.log("two"));
  const auto log = file_text(runs.log("two"));
  EXPECT_EQ(log.find("the first to fail"), std::string::npos) << log;
  const auto command = resume_command(log);
  EXPECT_NE(command.find("--nproc-per-node 2"), std::string::npos) << log;
  const auto resumed = run_command(command);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_equal_weights(runs.final_weights("two"), runs.final_weights("one"), 1e-4);
}

/// How many processes have `text` in their command line.
int processes_with(const std::string& text) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string line;
    if (std::getline(cmdline, line, '\n') && line.find(text) != std::string::npos) ++count;
  }
  return count;
}

TEST(StopAndResume, SigkillToTheLauncherStopsEveryRank) {
  if (!binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TrainRuns runs(100000);
  BackgroundCommand launcher(runs.command("orphans", "--nproc-per-node 2"), runs.log("orphans"));
  ASSERT_TRUE(
      wait_until([&] { return runs.steps_logged("orphans") >= 3; }, std::chrono::seconds(60)))
      << file_text(runs.log("orphans"));
  EXPECT_EQ(processes_with(runs.out("orphans")), 3);  // the launcher and two ranks
  launcher.signal(SIGKILL);
  EXPECT_EQ(launcher.wait(std::chrono::seconds(10)), 128 + SIGKILL);
  // The ranks get SIGTERM from the kernel: they stop after a step, with a checkpoint.
  EXPECT_TRUE(wait_until([&] { return processes_with(runs.out("orphans")) == 0; },
                         std::chrono::seconds(60)))
      << file_text(runs.log("orphans"));
  const auto log = file_text(runs.log("orphans"));
  EXPECT_NE(log.find("xlstm-train: stopped by SIGTERM after step "), std::string::npos) << log;
  EXPECT_TRUE(latest_checkpoint(runs.out("orphans") + "/checkpoints")) << log;
}

}  // namespace
}  // namespace xlstm
