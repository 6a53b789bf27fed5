// The distributed primitives on a tiny model, with 2 and 3 Gloo ranks as threads on the loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "training/distributed_support.h"
#include "xlstm/training/batch.h"
#include "xlstm/training/distributed.h"

namespace xlstm {
namespace {

using testing::free_port;
using testing::loopback_env;
using testing::run_ranks;
using Clock = std::chrono::steady_clock;

/// Sets environment variables for one test and restores them afterwards.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(std::vector<std::pair<std::string, std::string>> values) {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                             "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NNODES"}) {
      const char* old = std::getenv(name);
      saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
      unsetenv(name);
    }
    for (const auto& [name, value] : values) setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_)
      value ? setenv(name.c_str(), value->c_str(), 1) : unsetenv(name.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

std::string env_error(std::vector<std::pair<std::string, std::string>> values) {
  ScopedEnvironment scope(std::move(values));
  try {
    DistributedEnv::from_environment();
  } catch (const DistributedError& e) {
    return e.what();
  }
  return "";
}

TEST(DistributedEnv, ReadsTorchrunThenSlurmVariables) {
  {
    ScopedEnvironment scope({{"RANK", "2"},
                             {"WORLD_SIZE", "4"},
                             {"LOCAL_RANK", "0"},
                             {"MASTER_ADDR", "node7"},
                             {"MASTER_PORT", "1234"},
                             {"SLURM_PROCID", "3"},
                             {"SLURM_NTASKS", "8"}});
    const auto env = DistributedEnv::from_environment();
    EXPECT_EQ(env.rank, 2);
    EXPECT_EQ(env.world_size, 4);
    EXPECT_EQ(env.local_rank, 0);
    EXPECT_EQ(env.master_addr, "node7");
    EXPECT_EQ(env.master_port, 1234);
  }
  {
    ScopedEnvironment scope({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}});
    const auto env = DistributedEnv::from_environment();
    EXPECT_EQ(env.rank, 5);
    EXPECT_EQ(env.world_size, 8);
    EXPECT_EQ(env.local_rank, 1);
    EXPECT_EQ(env.master_addr, "127.0.0.1");  // one node
    EXPECT_EQ(env.master_port, 29500);
  }
  ScopedEnvironment none({});
  EXPECT_EQ(DistributedEnv::from_environment().world_size, 1);
}

TEST(DistributedEnv, BadVariablesAreNamed) {
  EXPECT_NE(env_error({{"WORLD_SIZE", "2"}, {"RANK", "one"}}).find("RANK='one'"),
            std::string::npos);
  EXPECT_NE(env_error({{"WORLD_SIZE", "2"}, {"RANK", "2"}})
                .find("RANK='2': expected an integer "
                      "in [0, 1]"),
            std::string::npos);
  EXPECT_NE(env_error({{"WORLD_SIZE", "2"}}).find("RANK is not set"), std::string::npos);
  EXPECT_NE(env_error({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000'"),
            std::string::npos);
  EXPECT_NE(env_error({{"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "0"}, {"SLURM_NNODES", "2"}})
                .find("MASTER_ADDR is not set"),
            std::string::npos);
}

TEST(ShareOfBatch, PartsCoverTheBatchInOrder) {
  // 10 examples from 100 in 4 parts: 3, 3, 2, 2.
  int64_t next = 100;
  const std::vector<int64_t> sizes = {3, 3, 2, 2};
  for (int64_t part = 0; part < 4; ++part) {
    const auto range = share_of_batch(100, 10, 4, part);
    EXPECT_EQ(range.first, next);
    EXPECT_EQ(range.size, sizes[static_cast<size_t>(part)]);
    next += range.size;
  }
  EXPECT_EQ(share_of_batch(0, 2, 3, 2).size, 0);
}

TEST(Communicator, SingleProcessHasNoGroup) {
  const auto single = Communicator::single_process();
  EXPECT_FALSE(single->has_group());
  EXPECT_EQ(single->backend(), "none");
  auto t = torch::ones({3});
  single->all_reduce_sum({t});
  EXPECT_EQ(t.sum().item<float>(), 3.0f);
}

TEST(Communicator, AllReduceAndBroadcastOverThreeRanks) {
  std::vector<std::vector<double>> seen(3);
  const auto errors = run_ranks(3, [&](int rank, std::shared_ptr<Communicator> comm) {
    EXPECT_EQ(comm->backend(), "gloo");
    auto floats = torch::full({4}, rank + 1.0);
    auto more = torch::full({2, 2}, 10.0 * rank);
    auto longs = torch::full({2}, static_cast<int64_t>(rank), torch::kLong);
    comm->all_reduce_sum({floats, more, longs});
    auto from_two = torch::full({3}, rank == 2 ? 7.0 : -1.0);
    comm->broadcast({from_two}, 2);
    comm->barrier();
    seen[static_cast<size_t>(rank)] = {floats[0].item<double>(), more[1][1].item<double>(),
                                       static_cast<double>(longs[1].item<int64_t>()),
                                       from_two[2].item<double>()};
  });
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(errors[static_cast<size_t>(rank)], "");
    EXPECT_EQ(seen[static_cast<size_t>(rank)], (std::vector<double>{6, 30, 3, 7}));
  }
}

TEST(Communicator, RanksMayStartBeforeRankZero) {
  const int port = free_port();
  std::string error;
  std::thread late_rank_zero([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    DistributedOptions options;
    options.timeout = std::chrono::seconds(10);
    Communicator::connect(loopback_env(0, 2, port), options)->barrier();
  });
  try {
    DistributedOptions options;
    options.timeout = std::chrono::seconds(10);
    Communicator::connect(loopback_env(1, 2, port), options)->barrier();
  } catch (const std::exception& e) {
    error = e.what();
  }
  late_rank_zero.join();
  EXPECT_EQ(error, "");
}

// ---- a tiny model trained data-parallel against one process ------------------------------------

constexpr int64_t kBatch = 12;
constexpr int64_t kExamples = 36;

torch::nn::Sequential tiny_model() {
  torch::manual_seed(3);
  return torch::nn::Sequential(torch::nn::Linear(4, 16), torch::nn::Tanh(),
                               torch::nn::Linear(16, 8), torch::nn::Tanh(),
                               torch::nn::Linear(8, 3));
}

struct TinyData {
  torch::Tensor inputs, targets;
};

TinyData tiny_data() {
  torch::manual_seed(11);
  return {torch::randn({kExamples, 4}), torch::randint(0, 3, {kExamples})};
}

struct TinyRun {
  torch::nn::Sequential model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  size_t buckets = 0, started_in_backward = 0;
};

/// `steps` AdamW steps on global batches of kBatch examples, each rank's share in `micro_steps`
/// accumulated parts; the loss is the example-loss sum over the global batch count, so the summed
/// gradients are those of one process on the whole batch.
void train_tiny(TinyRun& run, const TinyData& data, const std::shared_ptr<Communicator>& comm,
                int steps, int micro_steps, bool zero) {
  const auto parameters = run.model->parameters();
  run.optimizer = std::make_unique<torch::optim::AdamW>(
      parameters, torch::optim::AdamWOptions(0.05).weight_decay(0.1));
  GradientSync sync(comm, parameters, {/*bucket_bytes=*/256});
  OptimizerStateSharding sharding(comm, parameters);
  broadcast_module(*comm, *run.model);
  const int64_t parts = comm->size() * micro_steps;
  for (int step = 0; step < steps; ++step) {
    run.optimizer->zero_grad();
    const int64_t first = (step * kBatch) % kExamples;
    for (int micro = 0; micro < micro_steps; ++micro) {
      const auto range = share_of_batch(first, kBatch, parts, micro * comm->size() + comm->rank());
      sync.begin_backward(micro == micro_steps - 1);
      const auto inputs = data.inputs.narrow(0, range.first, range.size);
      const auto targets = data.targets.narrow(0, range.first, range.size);
      const auto loss =
          torch::nn::functional::cross_entropy(
              run.model->forward(inputs), targets,
              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
          kBatch;
      loss.backward();
    }
    sync.finish();
    run.started_in_backward = sync.buckets_started_in_backward();
    if (zero)
      sharding.step(*run.optimizer);
    else
      run.optimizer->step();
  }
  run.buckets = sync.bucket_count();
}

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).norm() / b.norm()).item<double>();
}

void expect_same_weights(const TinyRun& run, const TinyRun& reference, const std::string& what) {
  const auto ours = run.model->parameters(), theirs = reference.model->parameters();
  ASSERT_EQ(ours.size(), theirs.size());
  for (size_t i = 0; i < ours.size(); ++i)
    EXPECT_LT(relative_difference(ours[i], theirs[i]), 1e-5) << what << ", parameter " << i;
}

struct Parity {
  int world_size, micro_steps;
  bool zero;
};

class DataParallelParity : public ::testing::TestWithParam<Parity> {};

TEST_P(DataParallelParity, WeightsEqualOneProcessOnTheGlobalBatch) {
  const auto [world_size, micro_steps, zero] = GetParam();
  const auto data = tiny_data();
  TinyRun reference;
  reference.model = tiny_model();
  train_tiny(reference, data, Communicator::single_process(), 6, 1, false);

  std::vector<TinyRun> runs(static_cast<size_t>(world_size));
  for (int rank = 0; rank < world_size; ++rank) {
    // Different initial weights on the other ranks: the broadcast from rank 0 must fix them.
    runs[static_cast<size_t>(rank)].model = tiny_model();
    if (rank > 0) {
      torch::NoGradGuard no_grad;
      for (auto& p : runs[static_cast<size_t>(rank)].model->parameters()) p.add_(rank);
    }
  }
  std::vector<size_t> own_states(static_cast<size_t>(world_size));
  const auto errors = run_ranks(world_size, [&](int rank, std::shared_ptr<Communicator> comm) {
    auto& run = runs[static_cast<size_t>(rank)];
    train_tiny(run, data, comm, 6, micro_steps, zero);
    own_states[static_cast<size_t>(rank)] = run.optimizer->state().size();
    if (zero)
      OptimizerStateSharding(comm, run.model->parameters()).gather_state_to_main(*run.optimizer);
  });
  const auto what = std::to_string(world_size) + " ranks, " + std::to_string(micro_steps) +
                    " micro-steps" + (zero ? ", ZeRO-1" : "");
  for (int rank = 0; rank < world_size; ++rank) {
    const auto& run = runs[static_cast<size_t>(rank)];
    ASSERT_EQ(errors[static_cast<size_t>(rank)], "") << what;
    expect_same_weights(run, reference, what + ", rank " + std::to_string(rank));
    EXPECT_GT(run.buckets, 2u);
    EXPECT_GT(run.started_in_backward, 0u) << "no all-reduce overlapped the backward";
  }
  const size_t all = reference.model->parameters().size();  // 6
  size_t total = 0;
  for (const auto count : own_states) total += count;
  EXPECT_EQ(total, zero ? all : all * world_size) << "moments kept over the ranks";
  // Gathered (or never sharded), rank 0 holds the unsharded moments.
  ASSERT_EQ(runs[0].optimizer->state().size(), all);
  const auto ours = runs[0].model->parameters(), theirs = reference.model->parameters();
  for (size_t i = 0; i < all; ++i) {
    const auto* a = adamw_state(*runs[0].optimizer, ours[i]);
    const auto* b = adamw_state(*reference.optimizer, theirs[i]);
    ASSERT_TRUE(a && b) << what << " " << i;
    EXPECT_EQ(a->step(), b->step());
    EXPECT_LT(relative_difference(a->exp_avg_sq(), b->exp_avg_sq()), 1e-4) << what << " " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Gloo, DataParallelParity,
                         ::testing::Values(Parity{2, 1, false}, Parity{3, 1, false},
                                           Parity{2, 2, false}, Parity{3, 2, false},
                                           Parity{2, 1, true}, Parity{3, 2, true}),
                         [](const ::testing::TestParamInfo<Parity>& info) {
                           return std::to_string(info.param.world_size) + "Ranks" +
                                  std::to_string(info.param.micro_steps) + "MicroSteps" +
                                  (info.param.zero ? "Zero1" : "");
                         });

// ---- failures -----------------------------------------------------------------------------------

TEST(CommunicatorFailure, ARankThatLeavesIsNamed) {
  const auto start = Clock::now();
  const auto errors = run_ranks(
      2,
      [](int rank, std::shared_ptr<Communicator> comm) {
        comm->barrier();
        if (rank == 1) return;  // leaves: its group and heartbeat go away
        comm->report_step(4);
        comm->all_reduce_sum({torch::ones({8})});
      },
      std::chrono::seconds(20));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_NE(errors[0].find("rank 0 of 2: all-reduce failed at step 4"), std::string::npos)
      << errors[0];
  EXPECT_NE(errors[0].find("rank 1 stopped"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[1], "");
  EXPECT_LT(seconds, 15.0) << "the failure should show before the timeout";
}

TEST(CommunicatorFailure, LossOfRankZeroIsNamed) {
  const auto errors = run_ranks(
      2,
      [](int rank, std::shared_ptr<Communicator> comm) {
        comm->barrier();
        if (rank == 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        comm->all_reduce_sum({torch::ones({8})});
      },
      std::chrono::seconds(5));
  EXPECT_NE(errors[1].find("rank 1 of 2: all-reduce failed"), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("rank 0"), std::string::npos) << errors[1];
}

TEST(CommunicatorFailure, AHungRankTimesOutAndIsNamed) {
  // The timeout also bounds the rendezvous: 3 s, so that a loaded machine (a sanitizer build)
  // still joins in time; the collective is timed from its start.
  double failed_after = 0;
  const auto errors = run_ranks(
      2,
      [&](int rank, std::shared_ptr<Communicator> comm) {
        if (rank == 1) {  // alive (its heartbeat goes on) but never joins the collective
          std::this_thread::sleep_for(std::chrono::seconds(8));
          return;
        }
        comm->report_step(9);
        const auto start = Clock::now();
        try {
          comm->all_reduce_sum({torch::ones({8})});
        } catch (...) {
          failed_after = std::chrono::duration<double>(Clock::now() - start).count();
          throw;
        }
      },
      std::chrono::milliseconds(3000));
  EXPECT_NE(errors[0].find("rank 1 is alive but still at step 0"), std::string::npos) << errors[0];
  EXPECT_GT(failed_after, 2.9);
  EXPECT_LT(failed_after, 7.5);
}

std::string connect_error(const DistributedEnv& env, std::chrono::milliseconds timeout) {
  DistributedOptions options;
  options.timeout = timeout;
  try {
    Communicator::connect(env, options);
  } catch (const DistributedError& e) {
    return e.what();
  }
  return "";
}

TEST(CommunicatorFailure, MissingRanksAreNamedAtTheRendezvous) {
  const auto error =
      connect_error(loopback_env(0, 3, free_port()), std::chrono::milliseconds(1500));
  EXPECT_NE(error.find("ranks 1, 2 of WORLD_SIZE=3 did not join within 1.5 s"), std::string::npos)
      << error;
}

TEST(CommunicatorFailure, PortInUseIsNamed) {
  const int blocker = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof where;
  ASSERT_EQ(bind(blocker, reinterpret_cast<sockaddr*>(&where), sizeof where), 0);
  ASSERT_EQ(listen(blocker, 1), 0);
  getsockname(blocker, reinterpret_cast<sockaddr*>(&where), &length);
  const int port = ntohs(where.sin_port);
  const auto error = connect_error(loopback_env(0, 2, port), std::chrono::seconds(2));
  close(blocker);
  EXPECT_NE(
      error.find("rank 0 cannot serve the rendezvous store on MASTER_PORT=" + std::to_string(port)),
      std::string::npos)
      << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
}

TEST(CommunicatorFailure, UnreachableStoreIsNamed) {
  // Nobody serves the store on 127.0.0.2: rank 1 gives up after the timeout.
  auto env = loopback_env(1, 2, free_port());
  env.master_addr = "127.0.0.2";
  const auto error = connect_error(env, std::chrono::milliseconds(1500));
  EXPECT_NE(error.find("rank 1 cannot reach the rendezvous store at MASTER_ADDR=127.0.0.2"),
            std::string::npos)
      << error;
}

}  // namespace
}  // namespace xlstm
