#include "metrics_sink.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "../io/atomic_file.h"
#include "../io/json_writer.h"
#include "progress_log.h"
#include "xlstm/training/batch.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream text;
  if (total >= 3600) text << total / 3600 << "h";
  if (total >= 60) text << (total / 60) % 60 << "m";
  text << total % 60 << "s";
  return text.str();
}

void add_validation(io::json::ObjectWriter& json, const std::vector<ValidationResult>& results) {
  for (const auto& result : results)
    json.number(result.split + "/loss", result.loss)
        .number(result.split + "/accuracy", result.accuracy);
}

}  // namespace

MetricsSink::MetricsSink(std::ostream* log, const std::string& out_dir, int64_t num_steps,
                         const torch::Device& device, Communicator& communicator)
    : log_(log),
      communicator_(communicator),
      out_dir_(out_dir),
      num_steps_(num_steps),
      loss_sum_(torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device))),
      empty_batches_(torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device))),
      start_(Clock::now()) {
  if (!out_dir_.empty()) metrics_.emplace((fs::path(out_dir_) / "metrics.jsonl").string());
}

void MetricsSink::add_step(const torch::Tensor& loss, int64_t tokens,
                           const torch::Tensor& targets) {
  loss_sum_ += loss;
  empty_batches_ += targets.eq(0).to(torch::kLong);
  ++steps_;
  tokens_ += tokens;
}

void MetricsSink::write_header(const io::json::ObjectWriter& run) {
  if (metrics_) metrics_->write(io::json::ObjectWriter().object("run", run).text() + "\n");
}

MetricsSink::Interval MetricsSink::end_interval(int64_t step, double lr) {
  if (communicator_.has_group()) {
    // One all-reduce for the accuracy counts and the tokens (int64), one for the loss.
    auto tokens = torch::full({}, tokens_, loss_sum_.options().dtype(torch::kLong));
    accuracy_.merge(
        [&](const std::vector<torch::Tensor>& counts) {
          auto sums = counts;
          sums.push_back(tokens);
          sums.push_back(loss_sum_);
          communicator_.all_reduce_sum(sums);
        },
        loss_sum_.device());
    tokens_ = tokens.item<int64_t>();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const Interval interval{step,
                          lr,
                          loss_sum_.item<double>() / steps_,
                          accuracy_.compute(),
                          steps_ / seconds,
                          tokens_ / seconds};
  train_seconds_ += seconds;
  train_tokens_ += tokens_;
  if (!std::isfinite(interval.loss)) {
    const int64_t empty = empty_batches_.item<int64_t>();
    if (empty > 0)
      throw std::runtime_error(
          "training batch without target positions: " + std::to_string(empty) + " of the " +
          std::to_string(steps_) + " steps up to step " + std::to_string(step) +
          " had a batch whose targets are all " + std::to_string(kIgnoreIndex) +
          " (the ignore index), so its mean loss is undefined; the data must give every batch "
          "at least one target");
    std::ostringstream text;
    text << "training diverged: loss is " << interval.loss << " at step " << step;
    throw std::runtime_error(text.str());
  }
  std::ostringstream line;
  line << "step " << step << "/" << num_steps_ << "  loss " << std::fixed << std::setprecision(4)
       << interval.loss << "  acc " << std::setprecision(3) << interval.accuracy << "  lr "
       << std::scientific << std::setprecision(2) << lr << std::fixed << std::setprecision(1)
       << "  " << interval.steps_per_second << " steps/s  " << std::setprecision(0)
       << interval.tokens_per_second << " tok/s  ETA "
       << duration((num_steps_ - step) / interval.steps_per_second);
  log_line(log_, line.str());
  return interval;
}

void MetricsSink::write(const Interval& interval, const std::vector<ValidationResult>& validation) {
  for (const auto& result : validation) {
    std::ostringstream text;
    text << "  " << result.split << ": loss " << std::fixed << std::setprecision(4) << result.loss
         << "  acc " << std::setprecision(3) << result.accuracy;
    log_line(log_, text.str());
  }
  io::json::ObjectWriter json;
  json.integer("step", interval.step)
      .number("loss", interval.loss)
      .number("accuracy", interval.accuracy)
      .number("lr", interval.lr)
      .number("steps_per_s", interval.steps_per_second)
      .number("tokens_per_s", interval.tokens_per_second);
  add_validation(json, validation);
  if (metrics_) metrics_->write(json.text() + "\n");
}

void MetricsSink::start_interval() {
  loss_sum_.zero_();
  empty_batches_.zero_();
  accuracy_.reset();
  steps_ = 0;
  tokens_ = 0;
  start_ = Clock::now();
}

void MetricsSink::write_summary(const TrainSummary& summary) const {
  if (out_dir_.empty()) return;
  io::json::ObjectWriter json;
  json.integer("steps", summary.steps)
      .integer("first_step", summary.first_step)
      .boolean("stopped", summary.stopped)
      .number("loss", summary.loss)
      .number("accuracy", summary.accuracy)
      .number("train_seconds", summary.seconds)
      .number("steps_per_s", summary.steps_per_second)
      .number("tokens_per_s", summary.tokens_per_second);
  add_validation(json, summary.validation);
  io::write_file_atomically((fs::path(out_dir_) / "summary.json").string(), json.text() + "\n");
}

}  // namespace xlstm
