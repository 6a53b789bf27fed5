// The trainer's output directory (--out) as one run owns it: an exclusive lock against a second
// trainer, the checks made before the first step (the places it writes are writable; checkpoints
// already there need resume), so that nothing is found out only after the last step.
#pragma once

#include <string>

namespace xlstm {

/// An exclusive lock on a run directory: flock on DIR/.xlstm-train.lock, which holds the holder's
/// pid, for as long as the object lives (the kernel releases it when the process ends, however).
/// A second lock on the same directory, from this or another process, throws std::runtime_error
/// naming the directory and the holder's pid.
class RunDirLock {
 public:
  explicit RunDirLock(const std::string& dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

 private:
  int fd_ = -1;
};

/// Creates `dir` if needed and proves that a file can be created there (a probe file, removed
/// again); throws std::runtime_error naming the directory and the reason.
void check_writable_directory(const std::string& dir);

/// Writes `text` to `path` atomically unless the file holds exactly that already (a resumed run's
/// config.yaml given back as its --config is left alone).
void write_unless_unchanged(const std::string& path, const std::string& text);

/// What under a checkpoint directory would be continued or overwritten: "latest.json,
/// step_00000100, step_00000200" (the step directories, latest.json when present); "" when there is
/// nothing.
std::string existing_checkpoints(const std::string& checkpoint_dir);

}  // namespace xlstm
