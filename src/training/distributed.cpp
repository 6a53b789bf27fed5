// Communicator: environment, rendezvous, the Gloo group, collectives and the failure diagnosis.
#include "xlstm/training/distributed.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "distributed_c10d.h"

// Debian's LibTorch has Gloo built in but does not define the macro its header is guarded by.
#if __has_include(<gloo/config.h>)
#define XLSTM_HAVE_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

namespace xlstm {
namespace {

using Clock = std::chrono::steady_clock;

/// The message of an exception without LibTorch's backtrace, on one line.
std::string reason(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  for (auto& c : text)
    if (c == '\n') c = ' ';
  return text;
}

std::optional<std::string> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int integer_variable(const char* name, const std::string& text, int low, int high) {
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < low || value > high)
    throw DistributedError(std::string(name) + "='" + text + "': expected an integer in [" +
                           std::to_string(low) + ", " + std::to_string(high) + "]");
  return static_cast<int>(value);
}

int required_integer(const char* name, const char* because, int low, int high) {
  const auto text = variable(name);
  if (!text) throw DistributedError(std::string(name) + " is not set (" + because + ")");
  return integer_variable(name, *text, low, high);
}

std::string seconds(std::chrono::milliseconds duration) {
  std::ostringstream text;
  text << duration.count() / 1000.0 << " s";
  return text.str();
}

std::string store_address(const DistributedEnv& env) {
  return "MASTER_ADDR=" + env.master_addr + " MASTER_PORT=" + std::to_string(env.master_port);
}

/// The numeric address MASTER_ADDR resolves to (a name that does not resolve is an error here,
/// not a timeout later).
std::string resolve(const DistributedEnv& env) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = getaddrinfo(env.master_addr.c_str(), nullptr, &hints, &found);
  if (status != 0)
    throw DistributedError("MASTER_ADDR=" + env.master_addr +
                           " does not resolve: " + gai_strerror(status));
  char host[NI_MAXHOST] = "";
  getnameinfo(found->ai_addr, found->ai_addrlen, host, sizeof host, nullptr, 0, NI_NUMERICHOST);
  freeaddrinfo(found);
  return host;
}

c10::intrusive_ptr<c10d::Store> open_store(const DistributedEnv& env,
                                           std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(env.master_port);
  options.isServer = env.rank == 0;
  options.numWorkers = env.world_size;
  options.waitWorkers = false;  // join() below waits, and names the ranks that are missing
  // LibTorch 1.13's socket connect counts whole seconds: a shorter timeout would be none.
  options.timeout = std::max(timeout, std::chrono::milliseconds(1000));
  try {
    return c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    if (env.rank == 0)
      throw DistributedError("rank 0 cannot serve the rendezvous store on MASTER_PORT=" +
                             std::to_string(env.master_port) + " (" + reason(e) +
                             "): is the port in use by another run? Choose another MASTER_PORT");
    throw DistributedError("rank " + std::to_string(env.rank) +
                           " cannot reach the rendezvous store at " + store_address(env) +
                           " within " + seconds(timeout) + " (" + reason(e) +
                           "): is rank 0 running, and is MASTER_ADDR its address?");
  }
}

std::vector<uint8_t> bytes(const std::string& text) {
  return {text.begin(), text.end()};
}

/// Every rank announces itself, then waits until all have.
void join(c10d::Store& store, const DistributedEnv& env, std::chrono::milliseconds timeout) {
  const auto me = std::to_string(env.rank);
  if (store.add("claims/" + me, 1) > 1)
    throw DistributedError("two processes claim RANK=" + me +
                           " (of WORLD_SIZE=" + std::to_string(env.world_size) + ")");
  store.set("joined/" + me, bytes("1"));
  std::vector<std::string> keys;
  for (int r = 0; r < env.world_size; ++r) keys.push_back("joined/" + std::to_string(r));
  const auto deadline = Clock::now() + timeout;
  while (!store.check(keys)) {
    if (Clock::now() > deadline) {
      std::string missing;
      for (int r = 0; r < env.world_size; ++r)
        if (!store.check({keys[r]})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      throw DistributedError(
          "rank " + me + ": ranks " + missing + " of WORLD_SIZE=" + std::to_string(env.world_size) +
          " did not join within " + seconds(timeout) + " at " + store_address(env));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

c10::intrusive_ptr<C10dGroup> make_gloo_group(const c10::intrusive_ptr<c10d::Store>& store,
                                              const DistributedEnv& env, bool loopback,
                                              std::chrono::milliseconds timeout) {
#ifdef XLSTM_HAVE_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // GLOO_SOCKET_IFNAME picks the interface (as in PyTorch); a job on the loopback stays on it.
  if (const auto interface = variable("GLOO_SOCKET_IFNAME"))
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*interface));
  else if (loopback)
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
#else
  throw DistributedError("device cpu with WORLD_SIZE=" + std::to_string(env.world_size) +
                         " needs Gloo, and this build has none (LibTorch's gloo headers were not "
                         "found when it was compiled)");
#endif
}

torch::Device device_of(const DistributedOptions& options, const DistributedEnv& env) {
  if (options.device == "cpu") return torch::kCPU;
  if (options.device != "cuda")
    throw DistributedError("device '" + options.device + "': expected cpu or cuda");
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (env.local_rank >= count)
    throw DistributedError("LOCAL_RANK=" + std::to_string(env.local_rank) + " but only " +
                           std::to_string(count) + " CUDA devices are visible");
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank)};
}

/// Runs `collective` once per (dtype, device) group of `tensors` on one flat tensor, copying the
/// result back where a flat copy was needed. The groups come in a fixed order on every rank.
template <class Collective>
void over_flat_groups(const std::vector<torch::Tensor>& tensors, Collective collective) {
  torch::NoGradGuard no_grad;
  std::map<std::tuple<int, std::string>, std::vector<torch::Tensor>> groups;
  for (const auto& t : tensors)
    groups[{static_cast<int>(t.scalar_type()), t.device().str()}].push_back(t);
  for (auto& [key, group] : groups) {
    const bool direct = group.size() == 1 && group[0].is_contiguous();
    auto flat = direct ? group[0] : at::flatten_dense_tensors(group);
    collective(flat);
    if (direct) continue;
    const auto pieces = at::unflatten_dense_tensors(flat, group);
    for (size_t i = 0; i < group.size(); ++i) group[i].copy_(pieces[i]);
  }
}

}  // namespace

DistributedEnv DistributedEnv::from_environment() {
  DistributedEnv env;
  const char* launcher = nullptr;
  if (const auto world = variable("WORLD_SIZE")) {
    env.world_size = integer_variable("WORLD_SIZE", *world, 1, 1 << 20);
    env.rank = required_integer("RANK", "WORLD_SIZE is", 0, env.world_size - 1);
    const auto local = variable("LOCAL_RANK");
    env.local_rank = local ? integer_variable("LOCAL_RANK", *local, 0, env.world_size - 1) : 0;
    launcher = "torchrun";
  } else if (const auto tasks = variable("SLURM_NTASKS")) {
    env.world_size = integer_variable("SLURM_NTASKS", *tasks, 1, 1 << 20);
    env.rank = required_integer("SLURM_PROCID", "SLURM_NTASKS is", 0, env.world_size - 1);
    const auto local = variable("SLURM_LOCALID");
    env.local_rank = local ? integer_variable("SLURM_LOCALID", *local, 0, env.world_size - 1) : 0;
    launcher = "slurm";
  } else {
    return env;
  }
  if (const auto addr = variable("MASTER_ADDR")) {
    env.master_addr = *addr;
  } else if (env.world_size > 1 && launcher == std::string("slurm") &&
             variable("SLURM_NNODES").value_or("1") != "1") {
    throw DistributedError(
        "MASTER_ADDR is not set: a Slurm job over several nodes needs the first node's address, "
        "e.g. export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n1)");
  }
  env.master_port = master_port_from_environment(env.master_port);
  return env;
}

int master_port_from_environment(int fallback) {
  const auto port = variable("MASTER_PORT");
  return port ? integer_variable("MASTER_PORT", *port, 1, 65535) : fallback;
}

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Communicator::~Communicator() = default;

std::shared_ptr<Communicator> Communicator::single_process() {
  return std::shared_ptr<Communicator>(new Communicator(std::make_unique<Impl>()));
}

std::shared_ptr<Communicator> Communicator::connect(const DistributedEnv& env,
                                                    const DistributedOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->env = env;
  impl->options = options;
  if (env.world_size == 1 && !options.group_for_single_process) {
    // No group: the trainer checks the device itself.
    impl->device = options.device == "cuda" ? torch::Device(torch::kCUDA) : torch::kCPU;
  } else {
    impl->device = device_of(options, env);
    const auto address = resolve(env);
    impl->store = open_store(env, options.timeout);
    join(*impl->store, env, options.timeout);
    const auto group_store = c10::make_intrusive<c10d::PrefixStore>("group", impl->store);
    try {
      impl->group =
          impl->device.is_cuda()
              ? make_nccl_group(group_store, env, options.timeout)
              : make_gloo_group(group_store, env, address.rfind("127.", 0) == 0 || address == "::1",
                                options.timeout);
    } catch (const DistributedError&) {
      throw;
    } catch (const std::exception& e) {
      throw DistributedError("rank " + std::to_string(env.rank) + ": building the " +
                             (impl->device.is_cuda() ? "NCCL" : "Gloo") +
                             " process group failed: " + reason(e));
    }
    impl->start_heartbeat();
  }
  return std::shared_ptr<Communicator>(new Communicator(std::move(impl)));
}

int Communicator::rank() const {
  return impl_->env.rank;
}
int Communicator::size() const {
  return impl_->env.world_size;
}
bool Communicator::has_group() const {
  return static_cast<bool>(impl_->group);
}
std::string Communicator::backend() const {
  return impl_->group ? impl_->group->getBackendName() : "none";
}
torch::Device Communicator::device() const {
  return impl_->device;
}

void Communicator::all_reduce_sum(const std::vector<torch::Tensor>& tensors) {
  if (!impl_->group) return;
  over_flat_groups(tensors, [&](torch::Tensor& flat) {
    std::vector<torch::Tensor> list{flat};
    impl_->wait(impl_->group->allreduce(list), "all-reduce");
  });
}

void Communicator::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  if (!impl_->group) return;
  c10d::BroadcastOptions options;
  options.rootRank = root;
  over_flat_groups(tensors, [&](torch::Tensor& flat) {
    std::vector<torch::Tensor> list{flat};
    impl_->wait(impl_->group->broadcast(list, options),
                "broadcast from rank " + std::to_string(root));
  });
}

void Communicator::barrier() {
  if (impl_->group) impl_->wait(impl_->group->barrier(), "barrier");
}

void Communicator::report_step(int64_t step) {
  impl_->step = step;
}

void broadcast_module(Communicator& communicator, const torch::nn::Module& module) {
  auto tensors = module.parameters();
  for (const auto& buffer : module.buffers()) tensors.push_back(buffer);
  communicator.broadcast(tensors, 0);
}

// ---- failure diagnosis ----------------------------------------------------------------------

Communicator::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(heartbeat_mutex_);
    stopping_ = true;
  }
  heartbeat_stop_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

std::chrono::milliseconds Communicator::Impl::heartbeat_interval() const {
  return std::clamp(options.timeout / 20, std::chrono::milliseconds(50),
                    std::chrono::milliseconds(1000));
}

void Communicator::Impl::start_heartbeat() {
  const auto key = "heartbeat/" + std::to_string(env.rank);
  const auto beat_once = [this, key](int64_t beat) {
    try {
      store->set(key, bytes(std::to_string(beat) + " " + std::to_string(step.load())));
    } catch (const std::exception&) {
      // A store that is gone shows in the next collective, which diagnose() explains.
    }
  };
  // The first beat before connect() returns: a rank that leaves at once has still beaten, so
  // diagnose() says it stopped, not that it never started.
  beat_once(1);
  heartbeat_ = std::thread([this, beat_once] {
    std::unique_lock<std::mutex> lock(heartbeat_mutex_);
    for (int64_t beat = 2;; ++beat) {
      if (heartbeat_stop_.wait_for(lock, heartbeat_interval(), [this] { return stopping_; }))
        return;
      beat_once(beat);
    }
  });
}

void Communicator::Impl::wait(const WorkHandle& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(env.rank) + " of " +
                           std::to_string(env.world_size) + ": " + what + " failed at step " +
                           std::to_string(step.load()) + " (" + reason(e) + "); " + diagnose());
  }
}

std::string Communicator::Impl::diagnose() {
  struct Beat {
    bool present = false;
    int64_t beat = 0, step = 0;
  };
  const auto read = [&] {
    std::vector<Beat> beats(env.world_size);
    for (int r = 0; r < env.world_size; ++r) {
      const auto key = "heartbeat/" + std::to_string(r);
      if (r == env.rank || !store->check({key})) continue;
      const auto value = store->get(key);
      std::istringstream text(std::string(value.begin(), value.end()));
      beats[r].present = static_cast<bool>(text >> beats[r].beat >> beats[r].step);
    }
    return beats;
  };
  std::vector<Beat> before, after;
  const auto quiet = 3 * heartbeat_interval();
  try {
    before = read();
    std::this_thread::sleep_for(quiet);
    after = read();
  } catch (const std::exception& e) {
    return "rank 0 (which serves the rendezvous store at " + store_address(env) +
           ") is gone: the store does not answer (" + reason(e) + ")";
  }
  std::string found;
  const auto add = [&](const std::string& line) { found += (found.empty() ? "" : "; ") + line; };
  for (int r = 0; r < env.world_size; ++r) {
    if (r == env.rank) continue;
    const auto rank = "rank " + std::to_string(r);
    if (!after[r].present)
      add(rank + " never started its heartbeat");
    else if (after[r].beat == before[r].beat)
      add(rank + " stopped: no heartbeat for " + seconds(quiet) + " (it died or was stopped)");
    else if (after[r].step < step.load())
      add(rank + " is alive but still at step " + std::to_string(after[r].step) +
          " (it hangs or is much slower)");
  }
  return found.empty() ? "every other rank's heartbeat is alive and at this step or later" : found;
}

#ifndef XLSTM_WITH_CUDA
c10::intrusive_ptr<C10dGroup> make_nccl_group(const c10::intrusive_ptr<c10d::Store>&,
                                              const DistributedEnv&, std::chrono::milliseconds) {
  throw DistributedError("device cuda: this build of xlstm has no CUDA");
}
#endif

}  // namespace xlstm
