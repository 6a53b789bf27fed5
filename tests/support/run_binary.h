// Runs one of the built binaries (build/bin/NAME) through the shell and captures what it printed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace xlstm::testing {

inline std::string binary_path(const std::string& name) {
  return std::string(XLSTM_BINARY_DIR) + "/bin/" + name;
}

/// Whether the binary `name` was built (the examples are optional).
inline bool binary_built(const std::string& name) {
  return std::filesystem::exists(binary_path(name));
}

struct BinaryRun {
  int exit_code = -1;  ///< the exit status; 128 + N when signal N ended it
  std::string output;  ///< stdout and stderr together
  std::string command;

  bool printed(const std::string& text) const { return output.find(text) != std::string::npos; }
};

/// The exit code of a wait status: the code, or 128 + the signal that ended the process.
inline int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// `command` in /bin/sh, what it printed on stdout (redirect stderr in the command to see it).
inline BinaryRun run_shell(const std::string& command) {
  BinaryRun run;
  run.command = command;
  FILE* pipe = popen(run.command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot start: " << run.command;
    return run;
  }
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    run.output.append(buffer.data(), n);
  run.exit_code = exit_code_of(pclose(pipe));
  return run;
}

/// `binary_path(name) arguments 2>&1` in /bin/sh (arguments are shell words: quote paths with
/// spaces). Environment assignments may go in `environment` ("OMP_NUM_THREADS=1 "). Without
/// `with_stderr` the output is stdout alone (stderr is dropped).
inline BinaryRun run_binary(const std::string& name, const std::string& arguments,
                            const std::string& environment = "", bool with_stderr = true) {
  return run_shell(environment + binary_path(name) + " " + arguments +
                   (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

/// The run's command, exit code and output, for a failure message.
inline std::ostream& operator<<(std::ostream& out, const BinaryRun& run) {
  return out << "$ " << run.command << "\n[exit " << run.exit_code << "]\n" << run.output;
}

}  // namespace xlstm::testing
