#include "run_dir.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "../io/atomic_file.h"
#include "../io/input_file.h"
#include "xlstm/training/checkpoint.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

std::string holder_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  std::string pid = n > 0 ? std::string(text, static_cast<size_t>(n)) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

RunDirLock::RunDirLock(const std::string& dir) {
  const std::string path = (fs::path(dir) / ".xlstm-train.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd_ < 0)
    throw std::runtime_error("cannot lock '" + dir + "' (" + path + "): " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string pid = holder_pid(fd_);
    ::close(fd_);
    if (error == EWOULDBLOCK)
      throw std::runtime_error("'" + dir + "' is in use by another trainer (pid " + pid +
                               ", holding " + path +
                               "): wait for it to end, or choose another --out");
    throw std::runtime_error("cannot lock '" + path + "': " + std::strerror(error));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // Without the pid the lock still holds; only a second trainer's message is poorer.
  [[maybe_unused]] const bool recorded =
      ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) > 0;
}

RunDirLock::~RunDirLock() {
  ::close(fd_);  // releases the flock
}

void check_writable_directory(const std::string& dir) {
  try {
    fs::create_directories(dir);
    io::AtomicFileWriter probe((fs::path(dir) / ".write-test").string());
    probe.write("x", 1);
  } catch (const std::exception& e) {  // the probe's destructor removed its file
    throw std::runtime_error("output directory '" + dir + "' is not writable: " + e.what());
  }
}

void write_unless_unchanged(const std::string& path, const std::string& text) {
  try {
    if (io::InputFile(path).read_all(text.size()) == text) return;
  } catch (const std::runtime_error&) {  // missing, larger or not a regular file: write
  }
  io::write_file_atomically(path, text);
}

std::string existing_checkpoints(const std::string& checkpoint_dir) {
  std::string found;
  if (fs::exists(fs::symlink_status(fs::path(checkpoint_dir) / "latest.json")))
    found = "latest.json";
  for (const auto& name : checkpoint_directories(checkpoint_dir))
    found += (found.empty() ? "" : ", ") + name;
  return found;
}

}  // namespace xlstm
