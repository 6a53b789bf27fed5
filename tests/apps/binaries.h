// Running the built binaries (build/bin) from tests: a command's exit code and output, and a
// process started in the background that a test can signal.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "support/run_binary.h"

extern char** environ;

namespace xlstm::testing {

/// Runs `command` with sh (stderr joined to stdout); one intra-op thread per process.
inline BinaryRun run_command(const std::string& command) {
  return run_shell("OMP_NUM_THREADS=1 " + command + " 2>&1");
}

inline std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A command run in the background by sh (`exec`, so the pid is the program's), its output in
/// `log`.
class BackgroundCommand {
 public:
  BackgroundCommand(const std::string& command, const std::string& log) {
    const std::string line = "OMP_NUM_THREADS=1 exec " + command + " > " + log + " 2>&1";
    const char* argv[] = {"sh", "-c", line.c_str(), nullptr};
    if (posix_spawnp(&pid_, "sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
      pid_ = 0;
  }
  ~BackgroundCommand() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int number) const { ::kill(pid_, number); }
  /// Waits up to `timeout` for the process to end; its exit code, or -1 when it still runs.
  int wait(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!status_ && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_)
        status_ = exit_code_of(status);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_ ? *status_ : -1;
  }

 private:
  pid_t pid_ = 0;
  std::optional<int> status_;
};

/// Waits up to `timeout` until `done()` holds; whether it did.
template <class Predicate>
bool wait_until(Predicate done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace xlstm::testing
