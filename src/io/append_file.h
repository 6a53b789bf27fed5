// A file that lines are appended to (metrics.jsonl) with every write checked: a full disk or an
// I/O error is an exception naming the file, and a line that was only partly written is cut off
// again, so the file holds whole lines only.
#pragma once

#include <string>
#include <string_view>

namespace xlstm::io {

class AppendFile {
 public:
  /// Opens `path` for appending (created when missing; check_output_path applies). Throws
  /// std::runtime_error naming it.
  explicit AppendFile(std::string path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  /// Appends `text` whole or throws std::runtime_error naming the file and the reason.
  void write(std::string_view text);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace xlstm::io
