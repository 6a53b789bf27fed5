#include "xlstm/training/prefetcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>

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
    const Batch expected = direct.next_batch(8);
    const Batch got = prefetcher.next();
    ASSERT_TRUE(got.inputs.equal(expected.inputs)) << "batch " << i;
    ASSERT_TRUE(got.targets.equal(expected.targets)) << "batch " << i;
  }
}

// The worker calls the producer only when the queue has room: every call starts with fewer than
// `capacity` batches ready (recorded by the producer itself, no timing involved). The producer
// blocks on its (capacity + 1)-th call until the test lets it go, so the queue is seen full.
TEST(BatchPrefetcher, StaysWithinCapacityAndStopsCleanly) {
  constexpr int kCapacity = 2;
  std::mutex mutex;
  std::condition_variable changed;
  int calls = 0;
  bool released = false;
  size_t most_ready_at_a_call = 0;
  std::atomic<BatchPrefetcher*> self{nullptr};
  auto prefetcher = std::make_unique<BatchPrefetcher>(
      [&] {
        std::unique_lock<std::mutex> lock(mutex);
        if (BatchPrefetcher* p = self.load())
          most_ready_at_a_call = std::max(most_ready_at_a_call, p->ready());
        ++calls;
        changed.notify_all();
        if (calls == kCapacity + 1) changed.wait(lock, [&] { return released; });
        return Batch{torch::full({1, 1}, calls, torch::kLong), torch::zeros({1, 1}, torch::kLong)};
      },
      static_cast<size_t>(kCapacity));
  self = prefetcher.get();
  {
    // The first next() makes room, so the third call starts (and blocks until released).
    EXPECT_EQ(prefetcher->next().inputs.item<int64_t>(), 1);
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return calls == kCapacity + 1; });
    released = true;
    changed.notify_all();
  }
  for (int64_t expected = 2; expected <= 10; ++expected)
    EXPECT_EQ(prefetcher->next().inputs.item<int64_t>(), expected);
  prefetcher->stop();
  EXPECT_THROW(prefetcher->next(), std::runtime_error);
  prefetcher.reset();  // the worker is already joined: nothing hangs
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_LT(most_ready_at_a_call, static_cast<size_t>(kCapacity));
  EXPECT_LE(calls, 10 + kCapacity + 1);  // consumed + queue + one in progress
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
