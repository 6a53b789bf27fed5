#include "file_tree.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace xlstm::io {
namespace {

thread_local std::string failed_entry;
thread_local std::vector<std::string>* found_files = nullptr;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  if (std::remove(path) == 0 || errno == ENOENT) return 0;
  failed_entry = path;
  return errno;
}

int collect_file(const char* path, const struct stat* info, int type, struct FTW*) {
  // nftw reports FIFOs, sockets and devices as FTW_F too: only regular files are collected.
  if (type == FTW_F && S_ISREG(info->st_mode)) found_files->push_back(path);
  if (type != FTW_DNR && type != FTW_NS) return 0;
  failed_entry = path;
  return EACCES;
}

}  // namespace

void remove_tree(const std::string& path) {
  struct stat info;
  if (::lstat(path.c_str(), &info) != 0 && errno == ENOENT) return;
  // Children before their directory (FTW_DEPTH), links removed, not followed (FTW_PHYS).
  const int err = ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (err != 0) {
    const std::string entry = failed_entry.empty() ? path : failed_entry;
    throw std::runtime_error("cannot remove '" + entry +
                             "': " + std::strerror(err > 0 ? err : errno));
  }
}

std::vector<std::string> subdirectories(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), ::closedir);
  if (!handle) throw std::runtime_error("cannot list '" + dir + "': " + std::strerror(errno));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat info;
    if (::lstat((dir + "/" + name).c_str(), &info) == 0 && S_ISDIR(info.st_mode))
      names.push_back(name);
  }
  return names;
}

std::vector<std::string> regular_files(const std::string& dir) {
  std::vector<std::string> files;
  found_files = &files;
  failed_entry.clear();
  const int err = ::nftw(dir.c_str(), collect_file, 16, FTW_PHYS);
  found_files = nullptr;
  if (err != 0) {
    const std::string entry = failed_entry.empty() ? dir : failed_entry;
    throw std::runtime_error("cannot list '" + entry +
                             "': " + std::strerror(err > 0 ? err : errno));
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace xlstm::io
