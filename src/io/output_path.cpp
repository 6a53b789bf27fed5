#include "xlstm/io/output_path.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <sys/stat.h>

#include "file_kind.h"

namespace xlstm::io {
namespace {

// Paths only: each is looked at again when a writer asks, so an input removed since (whose inode
// a new file may get) protects nothing.
std::mutex inputs_mutex;
std::vector<std::string>& protected_inputs() {
  static std::vector<std::string> inputs;
  return inputs;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void protect_input(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    throw std::runtime_error("input '" + path + "': " + std::strerror(errno));
  std::lock_guard<std::mutex> lock(inputs_mutex);
  protected_inputs().push_back(path);
}

void check_output_path(const std::string& path) {
  const auto refuse = [&](const std::string& why) {
    throw std::runtime_error("cannot write '" + path + "': " + why);
  };
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno != ENOENT) refuse(std::strerror(errno));
    const std::string dir = directory_of(path);
    struct stat dir_info {};
    if (::stat(dir.c_str(), &dir_info) != 0) refuse("its directory '" + dir + "' does not exist");
    if (!S_ISDIR(dir_info.st_mode)) refuse("'" + dir + "' is " + file_kind(dir_info.st_mode));
    return;
  }
  if (!S_ISREG(info.st_mode))
    refuse("it is " + file_kind(info.st_mode) + ", not a regular file: refusing to replace it");
  std::lock_guard<std::mutex> lock(inputs_mutex);
  for (const auto& input : protected_inputs()) {
    struct stat input_info {};
    if (::stat(input.c_str(), &input_info) != 0) continue;
    if (input_info.st_dev == info.st_dev && input_info.st_ino == info.st_ino)
      refuse(input == path ? "it is an input of this run: refusing to overwrite it"
                           : "it is the same file as the input '" + input +
                                 "' of this run: refusing to overwrite it");
  }
}

}  // namespace xlstm::io
