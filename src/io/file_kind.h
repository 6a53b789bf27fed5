// What a file that is not a regular one is, for messages ("a FIFO", "a symbolic link").
#pragma once

#include <string>

#include <sys/stat.h>

namespace xlstm::io {

/// "a directory", "a symbolic link", "a FIFO", "a character device", "a block device", "a socket",
/// "a regular file".
std::string file_kind(mode_t mode);

}  // namespace xlstm::io
