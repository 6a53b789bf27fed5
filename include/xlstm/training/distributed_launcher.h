// The built-in launcher of `xlstm-train --nproc-per-node N`: the local part of torchrun. It starts
// N copies of a command as ranks 0..N-1 of one job on this machine (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT set), each in a process group of its own, forwards
// SIGINT / SIGTERM to all of them (so a Ctrl-C at the terminal reaches each worker once) and waits;
// the first worker that fails is named. A killed launcher stops its workers too
// (stop_with_launcher).
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

namespace xlstm {

struct LaunchOptions {
  int nproc_per_node = 1;
  /// The program (looked up in PATH unless it holds a '/') and its arguments.
  std::vector<std::string> command;
  std::string master_addr = "127.0.0.1";
  /// 0: a port that is free on master_addr now.
  int master_port = 0;
  /// After a worker fails, how long the others may take to stop by themselves (they name the
  /// failed rank when their collectives fail) before they get SIGTERM, and SIGKILL as long again
  /// later.
  std::chrono::milliseconds grace = std::chrono::seconds(30);
};

/// Runs the workers until all have exited. Returns 0 when all exited with 0, else the status of
/// the first that failed (its exit code, 128 + the signal that killed it), and writes a line per
/// failed worker to `log`. After a signal was passed on, a worker that ends with 128 + that signal
/// (a clean stop, or killed by it) has not failed, and the launcher returns 128 + the signal.
/// Throws std::runtime_error when a worker cannot be started.
int launch_local_workers(const LaunchOptions& options, std::ostream& log);

/// In a worker that launch_local_workers started: has the kernel send it SIGTERM when the launcher
/// dies (even by SIGKILL), so no worker outlives its launcher; xlstm-train then stops after its
/// step as after any SIGTERM. SIGTERM at once if the launcher is gone already. A no-op in any
/// other process.
void stop_with_launcher();

/// `arguments` without `--name VALUE` / `--name=VALUE` (to hand a launcher's own command line to
/// its workers).
std::vector<std::string> without_option(const std::vector<std::string>& arguments,
                                        const std::string& name);

}  // namespace xlstm
