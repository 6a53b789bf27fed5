#include "input_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_kind.h"
#include "xlstm/io/read_file.h"

namespace xlstm::io {
namespace {

[[noreturn]] void fail_errno(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

InputFile::InputFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) fail_errno("cannot open");
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    fail_errno("cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error("is " + file_kind(st.st_mode) + ", not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  ::close(fd_);
}

std::string InputFile::read_all(uint64_t max_bytes) const {
  const auto too_large = [&](uint64_t bytes) {
    return std::runtime_error("file of " + std::to_string(bytes) + " bytes is larger than the " +
                              std::to_string(max_bytes) + "-byte limit");
  };
  if (size_ > max_bytes) throw too_large(size_);
  std::string text(static_cast<size_t>(size_) + 1, '\0');  // one byte more sees a file that grew
  size_t filled = 0;
  while (true) {
    if (filled == text.size()) {
      if (filled > max_bytes) throw too_large(filled);
      text.resize(std::min<uint64_t>(2 * text.size(), max_bytes + 1));
    }
    const ssize_t n = ::pread(fd_, &text[filled], text.size() - filled, filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("cannot read");
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  text.resize(filled);
  return text;
}

std::string read_regular_file(const std::string& path, uint64_t max_bytes) {
  try {
    return InputFile(path).read_all(max_bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + path + "' " + e.what());
  }
}

}  // namespace xlstm::io
