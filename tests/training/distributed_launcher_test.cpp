// The built-in launcher with shell workers: environment, a failing rank, signal forwarding.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "xlstm/training/distributed_launcher.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

using Clock = std::chrono::steady_clock;

fs::path fresh_dir(const std::string& name) {
  const auto dir =
      fs::temp_directory_path() / ("xlstm_launcher_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

LaunchOptions shell(int nproc, const std::string& script) {
  LaunchOptions options;
  options.nproc_per_node = nproc;
  options.command = {"sh", "-c", script};
  return options;
}

TEST(Launcher, EveryWorkerGetsItsRank) {
  const auto dir = fresh_dir("env");
  auto options = shell(3,
                       "echo \"$RANK $WORLD_SIZE $LOCAL_RANK $LOCAL_WORLD_SIZE $MASTER_ADDR "
                       "$MASTER_PORT\" > " +
                           dir.string() + "/rank_$RANK");
  options.master_port = 23456;
  std::ostringstream log;
  EXPECT_EQ(launch_local_workers(options, log), 0) << log.str();
  for (int rank = 0; rank < 3; ++rank)
    EXPECT_EQ(read(dir / ("rank_" + std::to_string(rank))),
              std::to_string(rank) + " 3 " + std::to_string(rank) + " 3 127.0.0.1 23456\n");
  fs::remove_all(dir);
}

TEST(Launcher, FirstFailingRankIsNamedAndTheOthersAreStopped) {
  // Rank 1 fails at once; rank 0 would run for a minute: it is stopped after the grace period.
  auto options = shell(2, "if [ \"$RANK\" = 1 ]; then exit 7; fi; exec sleep 60");
  options.grace = std::chrono::milliseconds(300);
  std::ostringstream log;
  const auto start = Clock::now();
  EXPECT_EQ(launch_local_workers(options, log), 7);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  const auto text = log.str();
  EXPECT_NE(text.find("rank 1 (pid"), std::string::npos) << text;
  EXPECT_NE(text.find("exited with code 7 (the first to fail)"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 0 (pid"), std::string::npos) << text;
  EXPECT_NE(text.find("was killed by signal 15"), std::string::npos) << text;
}

TEST(Launcher, SigtermReachesEveryWorker) {
  const auto dir = fresh_dir("signal");
  const auto d = dir.string();
  auto options = shell(2, "trap 'echo term > " + d + "/got_$RANK; exit 3' TERM; touch " + d +
                              "/ready_$RANK; while true; do sleep 0.05; done");
  std::thread sender([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!(fs::exists(dir / "ready_0") && fs::exists(dir / "ready_1")) && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // The launcher's handler catches it while the workers run.
    if (fs::exists(dir / "ready_0") && fs::exists(dir / "ready_1")) kill(getpid(), SIGTERM);
  });
  std::ostringstream log;
  const int status = launch_local_workers(options, log);
  sender.join();
  EXPECT_EQ(status, 3) << log.str();
  EXPECT_NE(log.str().find("passing it to the workers"), std::string::npos) << log.str();
  EXPECT_EQ(read(dir / "got_0"), "term\n");
  EXPECT_EQ(read(dir / "got_1"), "term\n");
  fs::remove_all(dir);
}

TEST(Launcher, MissingProgramIsAnError) {
  LaunchOptions options;
  options.nproc_per_node = 2;
  options.command = {"/no/such/program"};
  std::ostringstream log;
  // posix_spawn reports exec failures either at once or as exit code 127 of the child.
  try {
    EXPECT_EQ(launch_local_workers(options, log), 127);
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/program"), std::string::npos);
  }
}

TEST(Launcher, WithoutOptionDropsTheLaunchersOwnFlag) {
  const std::vector<std::string> args = {"xlstm-train", "--nproc-per-node",  "2", "--steps",
                                         "5",           "--nproc-per-node=3"};
  EXPECT_EQ(without_option(args, "--nproc-per-node"),
            (std::vector<std::string>{"xlstm-train", "--steps", "5"}));
}

}  // namespace
}  // namespace xlstm
