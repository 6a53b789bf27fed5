#include "xlstm/training/prefetcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "xlstm/experiments/formal_language.h"

namespace xlstm {
namespace {

experiments::FormalLanguageConfig options() {
  experiments::FormalLanguageConfig o;
  o.context_length = 64;
  o.seed = 99;
  return o;
}

TEST(BatchPrefetcher, YieldsTheSameSequenceAsDirectGeneration) {
  experiments::FormalLanguageGenerator direct(options());
  experiments::FormalLanguageGenerator generator(options());
  BatchPrefetcher prefetcher([generator]() mutable { return generator.next_batch(8); }, 3);
  for (int i = 0; i < 20; ++i) {
    if (i % 5 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // slow consumer
    const Batch expected = direct.next_batch(8);
    const Batch got = prefetcher.next();
    ASSERT_TRUE(got.inputs.equal(expected.inputs)) << "batch " << i;
    ASSERT_TRUE(got.targets.equal(expected.targets)) << "batch " << i;
  }
}

TEST(BatchPrefetcher, StaysWithinCapacityAndStopsCleanly) {
  std::atomic<int> produced{0};
  auto prefetcher = std::make_unique<BatchPrefetcher>(
      [&produced] {
        ++produced;
        return Batch{torch::zeros({1, 1}, torch::kLong), torch::zeros({1, 1}, torch::kLong)};
      },
      2);
  for (int i = 0; i < 200 && prefetcher->ready() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(prefetcher->ready(), 2u);
  EXPECT_EQ(produced.load(), 2);  // the worker waits for room instead of running ahead
  prefetcher->next();
  prefetcher->stop();
  EXPECT_THROW(prefetcher->next(), std::runtime_error);
  prefetcher.reset();  // the worker is already joined: nothing hangs
  EXPECT_LE(produced.load(), 3);
}

TEST(BatchPrefetcher, RethrowsTheProducersError) {
  int calls = 0;
  BatchPrefetcher prefetcher(
      [&calls] {
        if (++calls == 3) throw std::runtime_error("generator broke");
        return Batch{torch::full({1}, calls, torch::kLong), torch::zeros({1}, torch::kLong)};
      },
      4);
  EXPECT_EQ(prefetcher.next().inputs.item<int64_t>(), 1);
  EXPECT_EQ(prefetcher.next().inputs.item<int64_t>(), 2);
  try {
    prefetcher.next();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "generator broke");
  }
}

}  // namespace
}  // namespace xlstm
