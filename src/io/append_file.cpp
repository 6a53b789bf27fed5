#include "append_file.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

#include "xlstm/io/output_path.h"

namespace xlstm::io {

AppendFile::AppendFile(std::string path) : path_(std::move(path)) {
  check_output_path(path_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd_ < 0) throw std::runtime_error("cannot open '" + path_ + "': " + std::strerror(errno));
}

AppendFile::~AppendFile() {
  ::close(fd_);
}

void AppendFile::write(std::string_view text) {
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  while (!text.empty()) {
    const ssize_t written = ::write(fd_, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const std::string reason = written < 0 ? std::strerror(errno) : "nothing was written";
      // Cut a partly written line off again (best effort: the write's error is what is reported).
      if (start >= 0 && ::ftruncate(fd_, start) != 0) errno = 0;
      throw std::runtime_error("cannot write '" + path_ + "': " + reason);
    }
    text.remove_prefix(static_cast<size_t>(written));
  }
}

}  // namespace xlstm::io
