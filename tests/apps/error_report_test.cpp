// The binaries' error and signal helpers (examples/common): messages without LibTorch's backtrace
// or dispatcher dump, every exception turned into a message, the stop-signal bookkeeping.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <sstream>
#include <stdexcept>

#include <c10/util/Exception.h>

#include "error_report.h"
#include "stop_signal.h"

namespace xlstm::apps {
namespace {

TEST(ErrorReport, C10ErrorsLoseTheirBacktrace) {
  try {
    TORCH_CHECK(false, "shape [2, 3] does not fit");
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("Exception raised from"), std::string::npos)
        << "LibTorch no longer adds a backtrace: " << e.what();
    EXPECT_EQ(user_message(e), "shape [2, 3] does not fit");
  }
}

TEST(ErrorReport, BacktracesAndDispatcherDumpsInsideMessagesAreCut) {
  const std::runtime_error wrapped(
      "checkpoint 'x': bad archive\nException raised from load at /src/x.cpp:12 (most recent "
      "call first):\nframe #0: c10::Error::Error() + 0x42\nframe #1: main + 0x10\n");
  EXPECT_EQ(user_message(wrapped), "checkpoint 'x': bad archive");
  const std::runtime_error dispatcher(
      "Could not run 'aten::empty.memory_format' with arguments from the 'CUDA' backend. This "
      "could be because the operator doesn't exist for this backend, or was omitted during the "
      "selective/custom build process (if using custom build). 'aten::empty.memory_format' is only "
      "available for these backends: [CPU, Meta, QuantizedCPU].\n\nCPU: registered at "
      "aten/src/ATen/RegisterCPU.cpp:30798 [kernel]\nMeta: registered at ...\n");
  EXPECT_EQ(user_message(dispatcher),
            "Could not run 'aten::empty.memory_format' with arguments from the 'CUDA' backend. "
            "(is the device available to this process?)");
}

TEST(ErrorReport, RunMainTurnsEveryExceptionIntoExitCodeOne) {
  std::ostringstream captured;
  auto* old = std::cerr.rdbuf(captured.rdbuf());
  const int from_error = run_main("tool", []() -> int { throw std::invalid_argument("bad --x"); });
  const int from_unknown = run_main("tool", []() -> int { throw 42; });
  const int ok = run_main("tool", [] { return 3; });
  std::cerr.rdbuf(old);
  EXPECT_EQ(from_error, kExitError);
  EXPECT_EQ(from_unknown, kExitError);
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(captured.str(), "tool: bad --x\ntool: an error of an unknown type\n");
}

TEST(StopSignal, FirstSignalIsRecordedAndCleared) {
  install_stop_signals();
  EXPECT_FALSE(stop_requested());
  std::raise(SIGTERM);  // handled: the process goes on
  EXPECT_TRUE(stop_requested());
  EXPECT_EQ(stop_signal(), SIGTERM);
  EXPECT_EQ(stop_exit_code(), 143);
  EXPECT_STREQ(stop_signal_name(), "SIGTERM");
  clear_stop_request();
  EXPECT_FALSE(stop_requested());
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

TEST(StopSignal, SecondSignalEndsTheProcessAtOnce) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // raise() runs the handler before it returns: the second one ends us here
    install_stop_signals();
    std::raise(SIGINT);
    std::raise(SIGINT);
    ::_exit(stop_requested() ? 7 : 8);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status)) << "exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

}  // namespace
}  // namespace xlstm::apps
