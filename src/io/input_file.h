// Opening a file that a reader takes as input: only a regular file is read. A directory, FIFO,
// device or socket is refused by name (a FIFO without blocking on it, /dev/zero without reading
// forever).
#pragma once

#include <cstdint>
#include <string>

namespace xlstm::io {

class InputFile {
 public:
  /// Opens `path` (following symbolic links); throws std::runtime_error whose message says what is
  /// wrong without naming the path ("is a directory, not a regular file", "cannot open: ..."), so
  /// each reader can wrap it in its own error type.
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int fd() const { return fd_; }
  /// The size when it was opened.
  uint64_t size() const { return size_; }
  /// The whole file, refusing one larger than `max_bytes` (also one that grew past it).
  std::string read_all(uint64_t max_bytes) const;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace xlstm::io
