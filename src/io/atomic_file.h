// Writing a file all-or-nothing: a temporary file in the same directory, renamed over the target
// on commit(), removed when the writer is destroyed without commit(). The target must be a place
// check_output_path accepts (xlstm/io/output_path.h): never an input of the run, never anything but
// a regular file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xlstm::io {

class AtomicFileWriter {
 public:
  /// Checks `path` and creates the temporary file; throws std::runtime_error naming `path` on
  /// failure.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  /// Flushes to disk and renames the temporary file to the target path.
  void commit();

 private:
  [[noreturn]] void fail(const std::string& what);

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
};

/// Writes `bytes` to `path` all-or-nothing with an AtomicFileWriter.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace xlstm::io
