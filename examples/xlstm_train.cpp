// xlstm-train: the official experiments/main.py in C++ (parity and the other formal-language tasks,
// MQAR): trains an xLSTMLMModel from an experiment YAML, validates, writes metrics and checkpoints.
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>

#include <xlstm/config/overrides.h>
#include <xlstm/training/checkpoint.h>
#include <xlstm/training/trainer.h>

namespace {

void print_validation(const std::vector<xlstm::ValidationResult>& results) {
  for (const auto& r : results)
    std::cout << "  " << r.split << ": loss " << std::fixed << std::setprecision(4) << r.loss
              << "  accuracy " << std::setprecision(4) << r.accuracy << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "xlstm-train: train an xLSTM language model on a synthetic task (parity, MQAR, ...)"};
  std::string config_path = "configs/parity_cpu.yaml", device, weights;
  std::vector<std::string> assignments;
  int64_t steps = 0;
  xlstm::TrainerOptions options;
  bool eval_only = false;
  app.add_option("--config", config_path, "experiment YAML (official experiments/*.yaml format)")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  app.add_option("--out", options.out_dir,
                 "output directory: metrics.jsonl, config.yaml, summary.json, checkpoints/");
  app.add_option("--steps", steps,
                 "number of steps (sets training.num_steps before interpolation, so a schedule "
                 "written as ${.num_steps} follows)")
      ->check(CLI::PositiveNumber);
  app.add_option("--device", device, "cpu or cuda (sets training.device)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--set", assignments,
                 "override a config value before interpolation, e.g. --set training.batch_size=32 "
                 "(repeatable; values are YAML)");
  app.add_option("--grad-clip", options.grad_clip, "clip the global gradient norm (0: off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--checkpoint-every", options.checkpoint_every,
                 "checkpoint every N steps (always at the end with --out; 0: only at the end)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--resume", options.resume, "continue from the newest checkpoint in --out");
  app.add_option("--log-every", options.log_every,
                 "progress and metrics line every N steps (default: val_every_step / k, k >= 4 the "
                 "smallest divisor)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--eval-only", eval_only, "only validate the weights given with --weights");
  app.add_option("--weights", weights, "weights for --eval-only (.safetensors or .pt)")
      ->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<xlstm::ConfigOverride> overrides;
    for (const auto& assignment : assignments)
      overrides.push_back(xlstm::ConfigOverride::parse(assignment));
    if (steps > 0) overrides.push_back({"training.num_steps", std::to_string(steps)});
    if (!device.empty()) overrides.push_back({"training.device", device});
    xlstm::ExperimentConfig config;
    try {
      config = xlstm::load_experiment_config(config_path, overrides);
    } catch (const xlstm::ConfigError& e) {
      if (steps == 0 || e.key_path() != "training.lr_decay_until_steps") throw;
      throw xlstm::ConfigError(e.key_path(),
                               e.message() + " (--steps " + std::to_string(steps) +
                                   " also sets it through ${.num_steps}: lower the warmup with "
                                   "--set training.lr_warmup_steps=M)",
                               e.location());
    }
    if (eval_only && weights.empty()) throw std::invalid_argument("--eval-only needs --weights");

    options.log = &std::cout;
    xlstm::Trainer trainer(config, options);
    int64_t parameters = 0;
    for (const auto& named : trainer.model()->unique_named_parameters())
      parameters += named.second.numel();
    std::cout << "xlstm-train: " << config_path << ": " << config.model.num_blocks
              << " blocks (block map " << config.model._block_map << "), embedding_dim "
              << config.model.embedding_dim << ", " << parameters << " parameters, dataset "
              << config.dataset.name << std::endl;

    if (eval_only) {
      trainer.load_weights(weights);
      std::cout << "validation of " << weights << ":\n";
      print_validation(trainer.validate());
      return 0;
    }
    const auto summary = trainer.train();
    const int64_t run_steps = summary.steps - summary.first_step;
    std::cout << "done: step " << summary.steps << " (" << run_steps << " this run) in "
              << std::fixed << std::setprecision(1) << summary.seconds << " s of training, "
              << std::setprecision(2) << summary.steps_per_second << " steps/s, "
              << std::setprecision(0) << summary.tokens_per_second << " tokens/s\n"
              << "  train (last interval): loss " << std::setprecision(4) << summary.loss
              << "  accuracy " << summary.accuracy << "\n";
    print_validation(summary.validation);
    if (!options.out_dir.empty()) std::cout << "metrics: " << options.out_dir << "/metrics.jsonl\n";
  } catch (const c10::Error& e) {
    std::cerr << "xlstm-train: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "xlstm-train: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
