#include "xlstm/experiments/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "../io/atomic_file.h"
#include "autocast.h"
#include "xlstm/config/error.h"
#include "xlstm/experiments/checkpoint.h"
#include "xlstm/experiments/experiment_data.h"
#include "xlstm/experiments/lr_scheduler.h"
#include "xlstm/experiments/metrics.h"
#include "xlstm/experiments/prefetcher.h"
#include "xlstm/io/state_dict.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace experiments {
namespace {

using Clock = std::chrono::steady_clock;

torch::ScalarType precision(const std::string& name) {
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kHalf;
  return torch::kFloat;
}

/// A JSON number (non-finite values, which JSON lacks, as null).
std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.12g", value);
  return text;
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream text;
  if (total >= 3600) text << total / 3600 << "h";
  if (total >= 60) text << (total / 60) % 60 << "m";
  text << total % 60 << "s";
  return text.str();
}

void write_file_atomically(const std::string& path, const std::string& text) {
  io::AtomicFileWriter writer(path);
  writer.write(text.data(), text.size());
  writer.commit();
}

/// Scales the gradients so that their global L2 norm is at most `max_norm`, without a host sync
/// (torch::nn::utils::clip_grad_norm_ returns the norm as a double, which waits for the device).
void clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2).to(torch::kFloat));
  if (norms.empty()) return;
  const auto total = torch::stack(norms).norm(2);
  const auto scale = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (const auto& p : parameters)
    if (p.grad().defined()) p.grad().detach().mul_(scale.to(p.grad().scalar_type()));
}

/// val_every_step / k for the smallest k >= 4 that divides it (4 or more lines per validation,
/// validation steps among them).
int64_t default_log_every(int64_t val_every_step) {
  for (int64_t k = 4; k <= val_every_step; ++k)
    if (val_every_step % k == 0) return val_every_step / k;
  return 1;
}

}  // namespace

struct Trainer::Impl {
  ExperimentConfig config;
  TrainerOptions options;
  torch::Device device{torch::kCPU};
  bool autocast = false;
  torch::ScalarType autocast_dtype = torch::kBFloat16;
  ExperimentData data;
  std::vector<ValidationSplit> validation;  // on the device
  xLSTMLMModel model{nullptr};
  std::vector<torch::Tensor> parameters;
  std::unique_ptr<torch::optim::AdamW> optimizer;

  Impl(ExperimentConfig cfg, TrainerOptions opts)
      : config(std::move(cfg)),
        options(std::move(opts)),
        data(make_experiment_data(config.dataset, config.training.batch_size)) {
    auto& training = config.training;
    if (options.device) training.device = *options.device;
    if (training.device != "cpu" && training.device != "cuda")
      throw ConfigError("training.device", "expected cpu or cuda, got '" + training.device + "'");
    TORCH_CHECK(training.device == "cpu" || torch::cuda::is_available(),
                "device cuda: no CUDA device is available to this process");
    device = torch::Device(training.device);
    autocast = training.enable_mixed_precision && device.is_cuda();
    autocast_dtype = precision(training.amp_precision);
    if (training.enable_mixed_precision && !device.is_cuda())
      say("note: enable_mixed_precision is ignored on the CPU (autocast runs on CUDA only)");
    check_model_fits_data();

    torch::manual_seed(static_cast<uint64_t>(training.seed));
    model = xLSTMLMModel(config.model);
    model->to(device);
    model->reset_parameters();
    model->to(precision(training.weight_precision));

    // main.py: weight_decay for the first group, 0 for the second (an empty group is left out).
    const auto groups = model->weight_decay_groups();
    std::vector<torch::optim::OptimizerParamGroup> param_groups;
    const auto add_group = [&](const std::vector<torch::Tensor>& params, double weight_decay) {
      if (params.empty()) return;
      param_groups.emplace_back(
          params, std::make_unique<torch::optim::AdamWOptions>(
                      torch::optim::AdamWOptions(training.lr).weight_decay(weight_decay)));
      parameters.insert(parameters.end(), params.begin(), params.end());
    };
    add_group(groups.weight_decay, training.weight_decay);
    add_group(groups.no_weight_decay, 0.0);
    optimizer = std::make_unique<torch::optim::AdamW>(param_groups,
                                                      torch::optim::AdamWOptions(training.lr));

    for (const auto& split : data.validation) {
      ValidationSplit moved{split.name, {}};
      for (const auto& batch : split.batches) moved.batches.push_back(batch.to(device));
      validation.push_back(std::move(moved));
    }
  }

  void say(const std::string& line) const {
    if (options.log) *options.log << line << std::endl;
  }

  void check_model_fits_data() const {
    const auto& model_config = config.model;
    if (model_config.vocab_size < data.vocab_size)
      throw ConfigError("model.vocab_size", std::to_string(model_config.vocab_size) +
                                                " is smaller than the dataset's vocab_size " +
                                                std::to_string(data.vocab_size));
    // The mLSTM's parallel form is built for sequences up to context_length.
    const auto blocks = model_config.block_map();
    const bool has_mlstm = std::find(blocks.begin(), blocks.end(), 0) != blocks.end();
    if (has_mlstm && data.max_sequence_length > model_config.context_length)
      throw ConfigError("model.context_length",
                        std::to_string(model_config.context_length) +
                            " is shorter than the dataset's longest sequence (" +
                            std::to_string(data.max_sequence_length) + " tokens)");
  }

  torch::Tensor forward_loss(const Batch& batch, SequenceAccuracy& accuracy) {
    CudaAutocast autocast_region(autocast, autocast_dtype);
    const auto logits = model->forward(batch.inputs);
    auto loss = sequence_cross_entropy(logits, batch.targets);
    accuracy.update(logits.detach(), batch.targets);
    return loss;
  }

  std::vector<ValidationResult> validate() {
    torch::NoGradGuard no_grad;
    model->eval();
    std::vector<ValidationResult> results;
    for (const auto& split : validation) {
      SequenceAccuracy accuracy;
      auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device));
      for (const auto& batch : split.batches) loss_sum += forward_loss(batch, accuracy).detach();
      results.push_back(
          {split.name, loss_sum.item<double>() / split.batches.size(), accuracy.compute()});
    }
    model->train();
    return results;
  }

  std::string checkpoint_dir() const {
    return (fs::path(options.out_dir) / "checkpoints").string();
  }

  TrainSummary train();
};

TrainSummary Trainer::Impl::train() {
  const auto& training = config.training;
  const int64_t num_steps = training.num_steps;
  const int64_t log_every =
      options.log_every > 0 ? options.log_every : default_log_every(training.val_every_step);
  const bool write_files = !options.out_dir.empty();

  TrainSummary summary;
  TrainingState state;
  if (write_files) {
    fs::create_directories(options.out_dir);
    const auto existing = latest_checkpoint(checkpoint_dir());
    if (existing && !options.resume)
      throw CheckpointError("'" + options.out_dir + "' already holds a checkpoint (" + *existing +
                            "): pass --resume to continue it, or choose another --out");
    if (existing) {
      state = load_checkpoint(checkpoint_dir(), *model, *optimizer, device);
      state.restore_rng();
      say("resumed from " + *existing + " at step " + std::to_string(state.step));
    } else if (options.resume) {
      say("no checkpoint in " + checkpoint_dir() + ": starting from step 0");
    }
    write_file_atomically((fs::path(options.out_dir) / "config.yaml").string(), to_yaml(config));
  }
  summary.first_step = state.step;

  LinearWarmupCosineAnnealing scheduler(*optimizer, training.lr_warmup_steps,
                                        training.lr_decay_until_steps, training.lr,
                                        training.lr_decay_factor * training.lr);
  for (int64_t k = 0; k < state.step; ++k) scheduler.step();

  TrainStream stream = data.train;
  stream.skip(state.step);
  TrainStream consumed = stream;  // positions only: what a checkpoint records
  const bool pin = device.is_cuda();
  BatchPrefetcher prefetcher(
      [stream, pin]() mutable {
        Batch batch = stream.next();
        if (pin) batch = {batch.inputs.pin_memory(), batch.targets.pin_memory()};
        return batch;
      },
      options.prefetch);

  std::ofstream metrics;
  if (write_files)
    metrics.open((fs::path(options.out_dir) / "metrics.jsonl").string(), std::ios::app);

  const auto save = [&](int64_t step) {
    state.step = step;
    state.data_position = consumed.position();
    state.capture_rng(device.is_cuda());
    const auto where = save_checkpoint(checkpoint_dir(), *model, *optimizer, state);
    say("checkpoint " + where);
  };

  model->train();
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device));
  SequenceAccuracy accuracy;
  int64_t interval_steps = 0, interval_tokens = 0, run_tokens = 0;
  double train_seconds = 0.0;
  auto interval_start = Clock::now();
  say("training " + std::to_string(num_steps) + " steps on " + training.device + " from step " +
      std::to_string(state.step) + " (batch " + std::to_string(training.batch_size) + ")");

  int64_t step = state.step;
  while (step < num_steps) {
    const Batch batch = prefetcher.next().to(device, /*non_blocking=*/pin);
    optimizer->zero_grad();
    const auto loss = forward_loss(batch, accuracy);
    loss.backward();
    if (options.grad_clip > 0) clip_grad_norm(parameters, options.grad_clip);
    optimizer->step();
    const double lr = scheduler.last_lr();  // the lr this step ran with
    scheduler.step();
    loss_sum += loss.detach();
    consumed.skip(1);
    ++step;
    ++interval_steps;
    interval_tokens += batch.inputs.numel();

    const bool validate_now = step % training.val_every_step == 0 || step == num_steps;
    const bool checkpoint_now =
        write_files && (step == num_steps ||
                        (options.checkpoint_every > 0 && step % options.checkpoint_every == 0));
    if (step % log_every != 0 && !validate_now) {
      if (checkpoint_now) save(step);
      continue;
    }
    // Logging step: the only place the loop waits for the device.
    summary.loss = loss_sum.item<double>() / interval_steps;
    summary.accuracy = accuracy.compute();
    const double seconds = std::chrono::duration<double>(Clock::now() - interval_start).count();
    train_seconds += seconds;
    run_tokens += interval_tokens;
    const double steps_per_second = interval_steps / seconds;
    TORCH_CHECK(std::isfinite(summary.loss), "training diverged: loss is ", summary.loss,
                " at step ", step);
    std::ostringstream line;
    line << "step " << step << "/" << num_steps << "  loss " << std::fixed << std::setprecision(4)
         << summary.loss << "  acc " << std::setprecision(3) << summary.accuracy << "  lr "
         << std::scientific << std::setprecision(2) << lr << std::fixed << std::setprecision(1)
         << "  " << steps_per_second << " steps/s  " << std::setprecision(0)
         << interval_tokens / seconds << " tok/s  ETA "
         << duration((num_steps - step) / steps_per_second);
    say(line.str());
    std::string json =
        "{\"step\": " + std::to_string(step) + ", \"loss\": " + json_number(summary.loss) +
        ", \"accuracy\": " + json_number(summary.accuracy) + ", \"lr\": " + json_number(lr) +
        ", \"steps_per_s\": " + json_number(steps_per_second) +
        ", \"tokens_per_s\": " + json_number(interval_tokens / seconds);
    if (validate_now) {
      summary.validation = validate();
      for (const auto& result : summary.validation) {
        std::ostringstream text;
        text << "  " << result.split << ": loss " << std::fixed << std::setprecision(4)
             << result.loss << "  acc " << std::setprecision(3) << result.accuracy;
        say(text.str());
        json += ", \"" + result.split + "/loss\": " + json_number(result.loss) + ", \"" +
                result.split + "/accuracy\": " + json_number(result.accuracy);
      }
    }
    json += "}\n";
    if (metrics.is_open()) metrics << json << std::flush;
    if (checkpoint_now) save(step);
    loss_sum.zero_();
    accuracy.reset();
    interval_steps = 0;
    interval_tokens = 0;
    interval_start = Clock::now();
  }
  if (step == summary.first_step) summary.validation = validate();  // nothing to train

  summary.steps = step;
  summary.seconds = train_seconds;
  const int64_t run_steps = step - summary.first_step;
  summary.steps_per_second = train_seconds > 0 ? run_steps / train_seconds : 0.0;
  summary.tokens_per_second = train_seconds > 0 ? run_tokens / train_seconds : 0.0;
  if (write_files) {
    std::string json = "{\"steps\": " + std::to_string(step) +
                       ", \"first_step\": " + std::to_string(summary.first_step) +
                       ", \"loss\": " + json_number(summary.loss) +
                       ", \"accuracy\": " + json_number(summary.accuracy) +
                       ", \"train_seconds\": " + json_number(summary.seconds) +
                       ", \"steps_per_s\": " + json_number(summary.steps_per_second) +
                       ", \"tokens_per_s\": " + json_number(summary.tokens_per_second);
    for (const auto& result : summary.validation)
      json += ", \"" + result.split + "/loss\": " + json_number(result.loss) + ", \"" +
              result.split + "/accuracy\": " + json_number(result.accuracy);
    write_file_atomically((fs::path(options.out_dir) / "summary.json").string(), json + "}\n");
  }
  return summary;
}

Trainer::Trainer(ExperimentConfig config, TrainerOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}
Trainer::~Trainer() = default;

TrainSummary Trainer::train() {
  return impl_->train();
}
std::vector<ValidationResult> Trainer::validate() {
  return impl_->validate();
}

void Trainer::load_weights(const std::string& path) {
  io::load_weights(path, *impl_->model, true);
}

xLSTMLMModel& Trainer::model() {
  return impl_->model;
}
const ExperimentConfig& Trainer::config() const {
  return impl_->config;
}

}  // namespace experiments
}  // namespace xlstm
