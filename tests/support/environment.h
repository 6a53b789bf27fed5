// Runs a piece of a test with one environment variable set (the kernels' off switches), then unset.
#pragma once

#include <cstdlib>

namespace xlstm::test {

/// `fn()` with `name`=`value` in the environment; `name` is unset afterwards.
template <class Fn>
auto with_environment(const char* name, const char* value, Fn fn) {
  setenv(name, value, 1);
  auto result = fn();
  unsetenv(name);
  return result;
}

}  // namespace xlstm::test
