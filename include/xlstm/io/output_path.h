// Where the library's writers may write (save_safetensors, save_pt, save_weights, checkpoints,
// metrics.jsonl, summary.json): never over an input of this process, under any name (device and
// inode are compared, so another path or a hard link to the same file is refused too), and never
// over anything but a regular file (a symbolic link, FIFO, device, directory or socket is refused
// by name instead of being replaced).
#pragma once

#include <string>

namespace xlstm::io {

/// Registers `path` (which must exist) as an input of this process: no writer replaces it.
/// Throws std::runtime_error naming it when it cannot be found.
void protect_input(const std::string& path);

/// Throws std::runtime_error naming `path` when a writer must not put a file there: an input given
/// to protect_input, something that is not a regular file, or a place whose directory does not
/// exist. Writers call it themselves; a program calls it early to fail before the work.
void check_output_path(const std::string& path);

}  // namespace xlstm::io
