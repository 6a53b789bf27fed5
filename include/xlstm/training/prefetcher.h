// BatchPrefetcher: a worker thread that calls a batch producer ahead of the training loop and
// keeps up to `capacity` batches in a bounded queue, so the device does not wait for data.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "xlstm/training/batch.h"

namespace xlstm {

class BatchPrefetcher {
 public:
  using Producer = std::function<Batch()>;

  /// Starts the worker. `producer` is called only from the worker thread, one call after another,
  /// so next() returns exactly the sequence of batches that calling `producer` directly would
  /// (e.g. `[gen]() mutable { return gen.next_batch(256); }`), whatever the timing. It may also
  /// move the batch to a device or pin it.
  BatchPrefetcher(Producer producer, size_t capacity);
  /// Stops the worker (it finishes the batch in progress) and joins it.
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  /// The next batch, waiting for the worker if the queue is empty. Rethrows an exception thrown
  /// by the producer (after the batches produced before it); throws after stop().
  Batch next();
  /// Asks the worker to stop and joins it; idempotent.
  void stop();
  /// Batches ready in the queue now.
  size_t ready() const;

 private:
  void run();

  Producer producer_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stopping_ = false;
  std::thread worker_;  // last: started after every other member exists
};

}  // namespace xlstm
