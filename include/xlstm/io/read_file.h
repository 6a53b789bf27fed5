// Reading a whole input file for the binaries and the datasets: a regular file only, bounded in
// size (a FIFO, a device such as /dev/zero or a directory is refused by name).
#pragma once

#include <cstdint>
#include <string>

namespace xlstm::io {

/// The bytes of `path`; std::runtime_error naming the path when it is not a regular file, cannot
/// be read or holds more than `max_bytes`.
std::string read_regular_file(const std::string& path, uint64_t max_bytes);

}  // namespace xlstm::io
