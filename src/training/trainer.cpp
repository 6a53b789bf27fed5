#include "xlstm/training/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "checkpoint_policy.h"
#include "metrics_sink.h"
#include "progress_log.h"
#include "run_dir.h"
#include "training_step.h"
#include "xlstm/components/dtype.h"
#include "xlstm/config/error.h"
#include "xlstm/training/distributed.h"
#include "xlstm/training/fused_adamw.h"
#include "xlstm/training/lr_scheduler.h"
#include "xlstm/training/prefetcher.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

/// val_every_step / k for the smallest k >= 4 that divides it (4 or more lines per validation,
/// validation steps among them).
int64_t default_log_every(int64_t val_every_step) {
  for (int64_t k = 4; k <= val_every_step; ++k)
    if (val_every_step % k == 0) return val_every_step / k;
  return 1;
}

/// The experiment's model must take the dataset's tokens and, with mLSTM blocks, whose parallel
/// form is built for sequences up to context_length, its longest sequence.
void check_model_fits_data(const xLSTMLMModelConfig& model_config, const ExperimentData& data) {
  if (model_config.vocab_size < data.vocab_size)
    throw ConfigError("model.vocab_size", std::to_string(model_config.vocab_size) +
                                              " is smaller than the dataset's vocab_size " +
                                              std::to_string(data.vocab_size));
  const auto blocks = model_config.block_map();
  const bool has_mlstm = std::find(blocks.begin(), blocks.end(), 0) != blocks.end();
  if (has_mlstm && data.max_sequence_length > model_config.context_length)
    throw ConfigError("model.context_length",
                      std::to_string(model_config.context_length) +
                          " is shorter than the dataset's longest sequence (" +
                          std::to_string(data.max_sequence_length) + " tokens)");
}

/// The options a run cannot use (a NaN grad_clip would turn clipping off without a word).
void check_options(const TrainerOptions& options) {
  if (!std::isfinite(options.grad_clip) || options.grad_clip < 0)
    throw std::invalid_argument("grad_clip (--grad-clip) must be a finite number >= 0, got " +
                                std::to_string(options.grad_clip));
  if (options.checkpoint_every < 0 || options.log_every < 0)
    throw std::invalid_argument("checkpoint_every and log_every must be >= 0");
}

}  // namespace

struct Trainer::Impl {
  ExperimentConfig config;
  TrainerOptions options;
  torch::Device device{torch::kCPU};
  AutocastSettings autocast;
  ExperimentData data;
  std::shared_ptr<Communicator> communicator;
  std::vector<ValidationSplit> validation;  // this rank's batches, on the device
  std::vector<size_t> validation_batches;   // of each split, over all ranks
  std::shared_ptr<LanguageModel> model;
  std::vector<torch::Tensor> parameters;
  std::unique_ptr<torch::optim::AdamW> optimizer;

  Impl(ExperimentConfig cfg, TrainerOptions opts)
      : config(std::move(cfg)),
        options(std::move(opts)),
        data(make_experiment_data(config.dataset, config.training.batch_size)) {
    join_job();
    choose_device();
    check_model_fits_data(config.model, data);
    torch::manual_seed(static_cast<uint64_t>(config.training.seed));
    xLSTMLMModel lm(config.model);
    lm->to(device);
    lm->reset_parameters();
    model = std::make_shared<ModuleLanguageModel<xLSTMLMModel>>(lm);
    prepare();
  }

  Impl(ExperimentConfig cfg, std::shared_ptr<LanguageModel> language_model,
       ExperimentData experiment_data, TrainerOptions opts)
      : config(std::move(cfg)),
        options(std::move(opts)),
        data(std::move(experiment_data)),
        model(std::move(language_model)) {
    join_job();
    choose_device();
    model->module().to(device);
    prepare();
  }

  /// The job's communicator (a single process without one); only rank 0 logs.
  void join_job() {
    check_options(options);
    communicator = options.communicator ? options.communicator : Communicator::single_process();
    if (!communicator->is_main()) options.log = nullptr;
    const auto& training = config.training;
    const int64_t parts = int64_t{communicator->size()} * training.grad_accumulation_steps;
    if (training.batch_size < parts)
      throw ConfigError("training.batch_size",
                        std::to_string(training.batch_size) + " is smaller than " +
                            std::to_string(communicator->size()) + " ranks x " +
                            std::to_string(training.grad_accumulation_steps) +
                            " grad_accumulation_steps (the global batch is split between them)");
  }

  /// training.device (after the --device override) and autocast.
  void choose_device() {
    auto& training = config.training;
    if (options.device) training.device = *options.device;
    if (training.device != "cpu" && training.device != "cuda")
      throw ConfigError("training.device", "expected cpu or cuda, got '" + training.device + "'");
    TORCH_CHECK(training.device == "cpu" || torch::cuda::is_available(),
                "device cuda: no CUDA device is available to this process");
    device = torch::Device(training.device);
    if (communicator->has_group()) {
      if (communicator->device().type() != device.type())
        throw ConfigError("training.device", "is " + training.device +
                                                 " but the process group was built for " +
                                                 communicator->device().str());
      device = communicator->device();  // cuda:LOCAL_RANK
    }
    autocast = {training.enable_mixed_precision && device.is_cuda(),
                dtype_from_name(training.amp_precision)};
    if (training.enable_mixed_precision && !device.is_cuda())
      log_line(options.log,
               "note: enable_mixed_precision is ignored on the CPU (autocast runs on CUDA only)");
  }

  /// The weight precision, the optimizer and the validation batches on the device.
  void prepare() {
    const auto& training = config.training;
    model->module().to(dtype_from_name(training.weight_precision));
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
    optimizer = std::make_unique<FusedAdamW>(param_groups, torch::optim::AdamWOptions(training.lr));
    broadcast_module(*communicator, model->module());

    // Validation sharded: batch i of a split is rank i % world_size's.
    const auto ranks = static_cast<size_t>(communicator->size());
    const auto rank = static_cast<size_t>(communicator->rank());
    for (const auto& split : data.validation) {
      ValidationSplit moved{split.name, {}};
      for (size_t i = rank; i < split.batches.size(); i += ranks)
        moved.batches.push_back(split.batches[i].to(device));
      validation.push_back(std::move(moved));
      validation_batches.push_back(split.batches.size());
    }
  }

  std::vector<ValidationResult> validate() {
    torch::NoGradGuard no_grad;
    model->module().eval();
    std::vector<ValidationResult> results;
    for (size_t s = 0; s < validation.size(); ++s) {
      const auto& split = validation[s];
      SequenceAccuracy accuracy;
      auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device));
      for (const auto& batch : split.batches)
        loss_sum += forward_loss(*model, batch, autocast, accuracy).detach();
      if (communicator->has_group())
        accuracy.merge(
            [&](const std::vector<torch::Tensor>& counts) {
              auto sums = counts;
              sums.push_back(loss_sum);
              communicator->all_reduce_sum(sums);
            },
            device);
      results.push_back(
          {split.name, loss_sum.item<double>() / validation_batches[s], accuracy.compute()});
    }
    model->module().train();
    return results;
  }

  TrainSummary train();
};

TrainSummary Trainer::Impl::train() {
  const auto& training = config.training;
  const int64_t num_steps = training.num_steps;
  const int64_t log_every =
      options.log_every > 0 ? options.log_every : default_log_every(training.val_every_step);

  const bool main_rank = communicator->is_main();
  std::unique_ptr<OptimizerStateSharding> sharding;
  if (training.zero_stage == 1)
    sharding = std::make_unique<OptimizerStateSharding>(communicator, parameters);
  CheckpointPolicy checkpoints(options, num_steps, model->module(), *optimizer, device,
                               *communicator, sharding.get());
  const TrainingState start = checkpoints.start();
  TrainSummary summary;
  summary.first_step = start.step;
  if (checkpoints.nothing_to_do()) {
    summary.steps = start.step;
    summary.nothing_to_do = true;
    log_line(options.log,
             "nothing to do: the checkpoint is at step " + std::to_string(start.step) +
                 " and training.num_steps is " + std::to_string(num_steps) +
                 " (raise it, with --steps in xlstm-train, to train on); no file was changed");
    communicator->barrier();
    return summary;
  }
  if (!options.out_dir.empty() && main_rank)
    write_unless_unchanged((fs::path(options.out_dir) / "config.yaml").string(), to_yaml(config));

  LinearWarmupCosineAnnealing scheduler(*optimizer, training.lr_warmup_steps,
                                        training.lr_decay_until_steps, training.lr,
                                        training.lr_decay_factor * training.lr);
  for (int64_t k = 0; k < start.step; ++k) scheduler.step();
  TrainingStep training_step(
      *model, *optimizer, scheduler, parameters, options.grad_clip, autocast,
      DataParallelism{communicator, training.grad_accumulation_steps, sharding.get()});

  TrainStream stream = data.train;
  stream.skip(start.step);
  TrainStream consumed = stream;  // positions only: what a checkpoint records
  const bool pin = device.is_cuda();
  const int ranks = communicator->size(), rank = communicator->rank();
  BatchPrefetcher prefetcher(
      [stream, pin, ranks, rank]() mutable {
        Batch batch = stream.next_share(ranks, rank);  // this rank's share of the global batch
        if (pin && batch.size() > 0)
          batch = {batch.inputs.pin_memory(), batch.targets.pin_memory()};
        return batch;
      },
      options.prefetch);

  MetricsSink metrics(options.log, main_rank ? options.out_dir : "", num_steps, device,
                      *communicator);
  metrics.write_header(io::json::ObjectWriter()
                           .integer("first_step", start.step)
                           .integer("world_size", ranks)
                           .integer("batch_size", training.batch_size)
                           .integer("grad_accumulation_steps", training.grad_accumulation_steps)
                           .integer("zero_stage", training.zero_stage));
  model->module().train();
  std::string spread;
  if (communicator->has_group())
    spread += ", " + std::to_string(ranks) + " ranks (" + communicator->backend() + ")";
  if (training.grad_accumulation_steps > 1)
    spread += ", " + std::to_string(training.grad_accumulation_steps) + " micro-batches per rank";
  if (sharding && ranks > 1) spread += ", ZeRO-1";
  log_line(options.log, "training " + std::to_string(num_steps) + " steps on " + training.device +
                            " from step " + std::to_string(start.step) + " (batch " +
                            std::to_string(training.batch_size) + spread + ")");

  // Whether any rank was asked to stop (one all-reduce of a flag over several ranks).
  const auto stop_now = [&] {
    if (!options.stop_requested) return false;
    const bool here = options.stop_requested();
    if (!communicator->has_group()) return here;
    auto flag =
        torch::full({}, here ? 1 : 0, torch::TensorOptions().dtype(torch::kLong).device(device));
    communicator->all_reduce_sum({flag});
    return flag.item<int64_t>() > 0;
  };

  int64_t step = start.step;
  while (step < num_steps) {
    const Batch batch = prefetcher.next().to(device, /*non_blocking=*/pin);
    const auto result = training_step.run(batch, metrics.accuracy());
    metrics.add_step(result.loss, batch.size() > 0 ? batch.inputs.numel() : 0, result.targets);
    consumed.skip(1);
    ++step;
    communicator->report_step(step);

    const bool stop = step < num_steps && stop_now();
    const bool validate_now = step % training.val_every_step == 0 || step == num_steps;
    const bool log_now = validate_now || stop || step % log_every == 0;
    if (log_now) {
      const auto interval = metrics.end_interval(step, result.lr);
      summary.loss = interval.loss;
      summary.accuracy = interval.accuracy;
      if (validate_now) summary.validation = validate();
      metrics.write(interval, validate_now ? summary.validation : std::vector<ValidationResult>{});
    }
    checkpoints.after_step(step, consumed.position(), /*now=*/stop);
    if (log_now) metrics.start_interval();
    if (stop) {
      summary.stopped = true;
      log_line(options.log, "stopped after step " + std::to_string(step) + " of " +
                                std::to_string(num_steps) + " (asked to stop)");
      break;
    }
  }

  summary.steps = step;
  summary.checkpoint = checkpoints.last_written();
  summary.seconds = metrics.train_seconds();
  const int64_t run_steps = step - summary.first_step;
  summary.steps_per_second = summary.seconds > 0 ? run_steps / summary.seconds : 0.0;
  summary.tokens_per_second = summary.seconds > 0 ? metrics.train_tokens() / summary.seconds : 0.0;
  metrics.write_summary(summary);
  communicator->barrier();  // rank 0 serves the store: it leaves last
  return summary;
}

Trainer::Trainer(ExperimentConfig config, TrainerOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}
Trainer::Trainer(ExperimentConfig config, std::shared_ptr<LanguageModel> model, ExperimentData data,
                 TrainerOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(model), std::move(data),
                                   std::move(options))) {}
Trainer::~Trainer() = default;

TrainSummary Trainer::train() {
  return impl_->train();
}
std::vector<ValidationResult> Trainer::validate() {
  return impl_->validate();
}

std::shared_ptr<LanguageModel> Trainer::model() {
  return impl_->model;
}
const ExperimentConfig& Trainer::config() const {
  return impl_->config;
}

}  // namespace xlstm
