#include "xlstm/training/distributed_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace xlstm {
namespace {

using Clock = std::chrono::steady_clock;

/// Set in each worker's environment: the launcher's pid (stop_with_launcher).
constexpr const char* kLauncherPidVariable = "XLSTM_LAUNCHER_PID";

volatile std::sig_atomic_t received_signal = 0;
void remember_signal(int signal_number) {
  received_signal = signal_number;
}

/// Installs remember_signal for SIGINT and SIGTERM while it lives.
class ForwardedSignals {
 public:
  ForwardedSignals() {
    received_signal = 0;
    struct sigaction action {};
    action.sa_handler = remember_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~ForwardedSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

int free_port(const std::string& address) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("launcher: socket: ") + std::strerror(errno));
  sockaddr_in where{};
  where.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &where.sin_addr) != 1)
    where.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof where;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&where), sizeof where) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&where), &length) == 0;
  close(fd);
  if (!ok)
    throw std::runtime_error("launcher: no free port on " + address + ": " + std::strerror(errno));
  return ntohs(where.sin_port);
}

std::vector<std::string> worker_environment(const LaunchOptions& options, int rank, int port) {
  static const std::vector<std::string> ours = {
      "RANK",        "WORLD_SIZE",  "LOCAL_RANK",        "LOCAL_WORLD_SIZE",
      "MASTER_ADDR", "MASTER_PORT", kLauncherPidVariable};
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    if (std::find(ours.begin(), ours.end(), text.substr(0, text.find('='))) == ours.end())
      environment.push_back(text);
  }
  const auto n = std::to_string(options.nproc_per_node);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"RANK", std::to_string(rank)},
           {"WORLD_SIZE", n},
           {"LOCAL_RANK", std::to_string(rank)},
           {"LOCAL_WORLD_SIZE", n},
           {"MASTER_ADDR", options.master_addr},
           {"MASTER_PORT", std::to_string(port)},
           {kLauncherPidVariable, std::to_string(getpid())}})
    environment.push_back(name + "=" + value);
  return environment;
}

std::vector<char*> pointers(std::vector<std::string>& texts) {
  std::vector<char*> result;
  for (auto& text : texts) result.push_back(text.data());
  result.push_back(nullptr);
  return result;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  const int signal_number = WTERMSIG(status);
  return "was killed by signal " + std::to_string(signal_number) + " (" + strsignal(signal_number) +
         ")";
}

int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Whether a worker ended as the signal passed on to it asks: a clean stop with 128 + the signal
/// (xlstm-train after SIGINT: 130), or killed by it.
bool stopped_by(int status, int forwarded) {
  return forwarded != 0 && exit_code(status) == 128 + forwarded;
}

struct Worker {
  int rank;
  pid_t pid;
  std::optional<int> status;  // set once it exited
};

void signal_running(const std::vector<Worker>& workers, int signal_number) {
  for (const auto& worker : workers)
    if (!worker.status) kill(worker.pid, signal_number);
}

}  // namespace

int launch_local_workers(const LaunchOptions& options, std::ostream& log) {
  if (options.nproc_per_node < 1 || options.command.empty())
    throw std::invalid_argument("launcher: needs nproc_per_node >= 1 and a command");
  const int port = options.master_port > 0 ? options.master_port : free_port(options.master_addr);
  ForwardedSignals signals;

  std::vector<Worker> workers;
  auto arguments = options.command;
  auto argv = pointers(arguments);
  // Each worker in a process group of its own: a Ctrl-C at the terminal reaches the launcher only,
  // which passes it on once (a worker that got it twice would take it for the second, "end now").
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  for (int rank = 0; rank < options.nproc_per_node; ++rank) {
    auto environment = worker_environment(options, rank, port);
    auto envp = pointers(environment);
    pid_t pid = 0;
    const int error = posix_spawnp(&pid, argv[0], nullptr, &attributes, argv.data(), envp.data());
    if (error != 0) {
      posix_spawnattr_destroy(&attributes);
      signal_running(workers, SIGKILL);
      for (const auto& worker : workers) waitpid(worker.pid, nullptr, 0);
      throw std::runtime_error("launcher: cannot start '" + options.command[0] +
                               "': " + std::strerror(error));
    }
    workers.push_back({rank, pid, std::nullopt});
  }
  posix_spawnattr_destroy(&attributes);

  std::vector<size_t> failed;  // in the order they failed
  constexpr auto never = Clock::time_point::max();
  auto terminate_at = never, kill_at = never;
  bool stopping = false;  // SIGTERM sent or a signal passed on: no second grace period
  int forwarded = 0;
  for (;;) {
    for (size_t i = 0; i < workers.size(); ++i) {
      auto& worker = workers[i];
      int status = 0;
      if (worker.status || waitpid(worker.pid, &status, WNOHANG) != worker.pid) continue;
      worker.status = status;
      if (status == 0 || stopped_by(status, forwarded)) continue;
      failed.push_back(i);
      if (!stopping && terminate_at == never) terminate_at = Clock::now() + options.grace;
    }
    if (std::none_of(workers.begin(), workers.end(), [](const Worker& w) { return !w.status; }))
      break;
    if (const int signal_number = received_signal) {
      received_signal = 0;
      forwarded = signal_number;
      log << "launcher: " << strsignal(signal_number) << ": passing it to the workers" << std::endl;
      signal_running(workers, signal_number);
      stopping = true;
      terminate_at = never;
      if (kill_at == never) kill_at = Clock::now() + options.grace;
    }
    const auto now = Clock::now();
    if (now > terminate_at) {
      log << "launcher: stopping the workers that are still running (SIGTERM)" << std::endl;
      signal_running(workers, SIGTERM);
      stopping = true;
      terminate_at = never;
      kill_at = now + options.grace;
    }
    if (now > kill_at) {
      signal_running(workers, SIGKILL);
      kill_at = never;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  for (const auto i : failed)
    log << "launcher: rank " << workers[i].rank << " (pid " << workers[i].pid << ") "
        << describe(*workers[i].status) << (i == failed.front() ? " (the first to fail)" : "")
        << std::endl;
  if (!failed.empty()) return exit_code(*workers[failed.front()].status);
  return forwarded ? 128 + forwarded : 0;
}

void stop_with_launcher() {
  const char* launcher = std::getenv(kLauncherPidVariable);
  if (launcher == nullptr) return;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // A launcher that died before the request was made: the worker has been re-parented already.
  if (std::to_string(getppid()) != launcher) kill(getpid(), SIGTERM);
}

std::vector<std::string> without_option(const std::vector<std::string>& arguments,
                                        const std::string& name) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (arguments[i] == name) {
      ++i;  // and its value
      continue;
    }
    if (arguments[i].rfind(name + "=", 0) == 0) continue;
    kept.push_back(arguments[i]);
  }
  return kept;
}

}  // namespace xlstm
