// Shared pieces of the distributed tests: a free loopback port and N ranks run as threads of this
// process (each with its own store client and Gloo group, as separate processes would have).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "xlstm/training/distributed.h"

namespace xlstm::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof where;
  bind(fd, reinterpret_cast<sockaddr*>(&where), sizeof where);
  getsockname(fd, reinterpret_cast<sockaddr*>(&where), &length);
  close(fd);
  return ntohs(where.sin_port);
}

inline DistributedEnv loopback_env(int rank, int world_size, int port) {
  DistributedEnv env;
  env.rank = rank;
  env.world_size = world_size;
  env.local_rank = rank;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  return env;
}

/// Runs body(rank, communicator) for ranks 0..n-1 on threads; returns what each threw ("" for
/// none).
inline std::vector<std::string> run_ranks(
    int n, const std::function<void(int, std::shared_ptr<Communicator>)>& body,
    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const int port = free_port();
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < n; ++rank)
    threads.emplace_back([&, rank] {
      try {
        DistributedOptions options;
        options.timeout = timeout;
        body(rank, Communicator::connect(loopback_env(rank, n, port), options));
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(rank)] = e.what();
        if (errors[static_cast<size_t>(rank)].empty()) errors[static_cast<size_t>(rank)] = "?";
      }
    });
  for (auto& thread : threads) thread.join();
  return errors;
}

}  // namespace xlstm::testing
