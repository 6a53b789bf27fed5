// The trainer's progress lines.
#pragma once

#include <ostream>
#include <string>

namespace xlstm {

/// `line` on `log`, flushed; nothing when `log` is nullptr.
inline void log_line(std::ostream* log, const std::string& line) {
  if (log) *log << line << std::endl;
}

}  // namespace xlstm
