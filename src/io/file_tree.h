// Removing and listing directories with POSIX calls instead of std::filesystem's directory
// functions. PyTorch's pip wheels (2.5 and later) export the std::filesystem directory code they
// link statically from libtorch_cpu.so; in a program built with a newer GCC those copies replace
// libstdc++'s and crash it (pytorch/pytorch#133437; on the H100 machine, PyTorch 2.11 and GCC
// 13, std::filesystem::remove_all of a non-empty directory jumped to address 0).
#pragma once

#include <string>
#include <vector>

namespace xlstm::io {

/// Removes `path` and everything below it, like `rm -rf` (nothing to do when it does not exist);
/// throws std::runtime_error naming the entry that could not be removed.
void remove_tree(const std::string& path);

/// Names of the subdirectories of `dir` (without "." and ".."; symbolic links not followed).
std::vector<std::string> subdirectories(const std::string& dir);

/// Paths of the regular files below `dir`, at any depth, sorted (symbolic links not followed);
/// throws std::runtime_error naming what could not be read.
std::vector<std::string> regular_files(const std::string& dir);

}  // namespace xlstm::io
