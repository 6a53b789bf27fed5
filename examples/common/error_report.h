// How every binary's main() reports an error: "program: message" on stderr and exit code 1. The
// message is for a user: none of LibTorch's backtrace ("Exception raised from ...", frame lists)
// and none of the dispatcher's list of backends when a device is absent. Exit codes:
// docs/reliability.md.
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace xlstm::apps {

/// The binaries' exit codes besides a signal's 128 + N (130 SIGINT, 143 SIGTERM after a stop).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,      ///< a bad input, file or config; a failed write
  kExitUsage = 2,      ///< a bad command line
  kExitNonFinite = 3,  ///< the output holds NaN or infinity (without --allow-nonfinite)
};

/// `e`'s message as a user should see it: a c10::Error without its backtrace, any text from
/// "Exception raised from" on and "frame #N" lines dropped, a dispatcher's "Could not run ... with
/// arguments from the 'X' backend" cut before its list of backends; no trailing newline.
std::string user_message(const std::exception& e);

/// Runs `body` (a binary's work once its options are parsed) and returns what it returns; an
/// exception of any type becomes "program: message" on stderr and kExitError.
int run_main(const std::string& program, const std::function<int()>& body);

}  // namespace xlstm::apps
