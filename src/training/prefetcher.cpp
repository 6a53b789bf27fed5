#include "xlstm/training/prefetcher.h"

#include <stdexcept>
#include <utility>

namespace xlstm {

BatchPrefetcher::BatchPrefetcher(Producer producer, size_t capacity)
    : producer_(std::move(producer)), capacity_(capacity) {
  TORCH_CHECK(capacity_ > 0, "BatchPrefetcher: capacity must be > 0");
  TORCH_CHECK(static_cast<bool>(producer_), "BatchPrefetcher: empty producer");
  worker_ = std::thread(&BatchPrefetcher::run, this);
}

BatchPrefetcher::~BatchPrefetcher() {
  stop();
}

void BatchPrefetcher::run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      not_full_.wait(lock, [this] { return stopping_ || queue_.size() < capacity_; });
      if (stopping_) return;
    }
    try {
      Batch batch = producer_();  // outside the lock: next() keeps serving ready batches
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      not_empty_.notify_all();
      return;
    }
    not_empty_.notify_one();
  }
}

Batch BatchPrefetcher::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  not_empty_.wait(lock, [this] { return stopping_ || !queue_.empty() || error_; });
  if (stopping_) throw std::runtime_error("BatchPrefetcher::next: the prefetcher was stopped");
  if (!queue_.empty()) {
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return batch;
  }
  std::rethrow_exception(error_);
}

void BatchPrefetcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  not_full_.notify_all();
  not_empty_.notify_all();
  if (worker_.joinable()) worker_.join();
}

size_t BatchPrefetcher::ready() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

}  // namespace xlstm
