// Where the training loop's numbers go: the means over each logging interval, the progress lines,
// out_dir/metrics.jsonl (a header line per run, then one line per logging step) and
// out_dir/summary.json. Over several ranks the interval's sums are all-reduced, so the numbers are
// those of the global batches.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "../io/append_file.h"
#include "../io/json_writer.h"
#include "xlstm/training/distributed.h"
#include "xlstm/training/metrics.h"
#include "xlstm/training/trainer.h"

namespace xlstm {

class MetricsSink {
 public:
  /// The means of one logging interval, ending at `step`.
  struct Interval {
    int64_t step;
    double lr;  ///< of the last step
    double loss, accuracy;
    double steps_per_second, tokens_per_second;
  };

  /// Opens out_dir/metrics.jsonl for appending (no files when out_dir is empty) and starts the
  /// first interval. Every write is checked: a full disk is an exception naming the file.
  MetricsSink(std::ostream* log, const std::string& out_dir, int64_t num_steps,
              const torch::Device& device, Communicator& communicator);

  /// The run's header line in metrics.jsonl: {"run": run}.
  void write_header(const io::json::ObjectWriter& run);

  /// One training step: its detached loss, its number of input tokens (this rank's) and the
  /// target positions of its global batch (a device scalar: counting them does not synchronise).
  void add_step(const torch::Tensor& loss, int64_t tokens, const torch::Tensor& targets);
  /// Counts the accuracy of the interval's steps.
  SequenceAccuracy& accuracy() { return accuracy_; }

  /// Ends the interval (the loop's only wait for the device; a collective over several ranks) and
  /// prints its progress line; a loss that is not finite is an error: a batch without target
  /// positions (whose mean loss is undefined) when there was one, else divergence.
  Interval end_interval(int64_t step, double lr);
  /// The lines of `validation` (empty: none ran) and the metrics.jsonl line of the interval.
  void write(const Interval& interval, const std::vector<ValidationResult>& validation);
  /// Starts the next interval: validation and checkpoints after end_interval are not timed.
  void start_interval();

  /// Training time and input tokens of the ended intervals.
  double train_seconds() const { return train_seconds_; }
  int64_t train_tokens() const { return train_tokens_; }
  /// out_dir/summary.json (nothing without out_dir).
  void write_summary(const TrainSummary& summary) const;

 private:
  using Clock = std::chrono::steady_clock;

  std::ostream* log_;
  Communicator& communicator_;
  std::string out_dir_;
  int64_t num_steps_;
  std::optional<io::AppendFile> metrics_;
  torch::Tensor loss_sum_;       // on the device: adding to it does not synchronise
  torch::Tensor empty_batches_;  // steps of the interval whose global batch had no target
  SequenceAccuracy accuracy_;
  int64_t steps_ = 0, tokens_ = 0;
  Clock::time_point start_;
  double train_seconds_ = 0.0;
  int64_t train_tokens_ = 0;
};

}  // namespace xlstm
