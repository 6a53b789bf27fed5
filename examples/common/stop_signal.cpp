#include "stop_signal.h"

#include <atomic>
#include <csignal>

#include <signal.h>

namespace xlstm::apps {
namespace {

std::atomic<int> received{0};

void on_stop_signal(int signal_number) {
  int none = 0;
  if (received.compare_exchange_strong(none, signal_number)) return;
  // The second signal: end now, as the signal would have without a handler.
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

}  // namespace

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() {
  return received.load() != 0;
}

int stop_signal() {
  return received.load();
}

int stop_exit_code() {
  return 128 + received.load();
}

const char* stop_signal_name() {
  switch (received.load()) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case 0:
      return "";
    default:
      return "a signal";
  }
}

void clear_stop_request() {
  received.store(0);
}

}  // namespace xlstm::apps
