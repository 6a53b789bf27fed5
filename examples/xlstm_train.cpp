// xlstm-train: the official experiments/main.py in C++ (parity and the other formal-language tasks,
// MQAR): trains an xLSTMLMModel from an experiment YAML, validates, writes metrics and checkpoints.
// One process, or data-parallel ranks: under torchrun / srun, or started by --nproc-per-node.
// SIGINT / SIGTERM: the current step ends, a checkpoint and the summary are written, the command
// that resumes is printed, exit code 130 / 143; a second signal ends the process at once.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include <xlstm/config/overrides.h>
#include <xlstm/io/output_path.h>
#include <xlstm/io/state_dict.h>
#include <xlstm/training/checkpoint.h>
#include <xlstm/training/distributed.h>
#include <xlstm/training/distributed_launcher.h>
#include <xlstm/training/trainer.h>

#include "cli_options.h"
#include "error_report.h"
#include "runtime_info.h"
#include "stop_signal.h"
#include "tensor_checks.h"

namespace {

void print_validation(std::ostream& out, const std::vector<xlstm::ValidationResult>& results) {
  for (const auto& r : results)
    out << "  " << r.split << ": loss " << std::fixed << std::setprecision(4) << r.loss
        << "  accuracy " << std::setprecision(4) << r.accuracy << "\n";
}

/// Runs this binary's command line as `nproc` local ranks (which see WORLD_SIZE and do not launch
/// again; they keep --nproc-per-node, so that the command they print for resuming is this one).
int launch(int nproc, int argc, char** argv) {
  xlstm::LaunchOptions launch;
  launch.nproc_per_node = nproc;
  launch.command = {std::filesystem::read_symlink("/proc/self/exe").string()};
  launch.command.insert(launch.command.end(), argv + 1, argv + argc);
  if (const char* addr = std::getenv("MASTER_ADDR")) launch.master_addr = addr;
  launch.master_port = xlstm::master_port_from_environment(0);  // 0: a free port
  return xlstm::launch_local_workers(launch, std::cerr);
}

/// `word` as a shell reads it back: quoted unless it is plain.
std::string shell_quoted(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_./=:,+-@%") == std::string::npos;
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// This run's command line with --resume (added unless it is there).
std::string resume_command(int argc, char** argv) {
  std::string command;
  bool has_resume = false;
  for (int i = 0; i < argc; ++i) {
    has_resume = has_resume || std::string(argv[i]) == "--resume";
    command += (i ? " " : "") + shell_quoted(argv[i]);
  }
  return has_resume ? command : command + " --resume";
}

/// What a run that was stopped by a signal says on stderr (rank 0).
void report_stop(const xlstm::TrainSummary& summary, int64_t num_steps, const std::string& out_dir,
                 int argc, char** argv) {
  std::cerr << "xlstm-train: stopped by " << xlstm::apps::stop_signal_name() << " after step "
            << summary.steps << " of " << num_steps;
  if (out_dir.empty()) {
    std::cerr << " (no --out: nothing was saved)\n";
    return;
  }
  std::cerr << "; checkpoint " << summary.checkpoint
            << "\nxlstm-train: to resume: " << resume_command(argc, argv) << std::endl;
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
      ->check(xlstm::apps::whole_number(1, xlstm::apps::kMaxCount));
  app.add_option("--device", device, "cpu or cuda (sets training.device)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--set", assignments,
                 "override a config value before interpolation, e.g. --set training.batch_size=32 "
                 "(repeatable; values are YAML)");
  app.add_option("--grad-clip", options.grad_clip, "clip the global gradient norm (0: off)")
      ->check(xlstm::apps::finite_number(0, 1e12));
  app.add_option("--checkpoint-every", options.checkpoint_every,
                 "checkpoint every N steps (always at the end and on SIGINT / SIGTERM with --out; "
                 "0: only then)")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxCount));
  app.add_flag("--resume", options.resume,
               "continue from the newest checkpoint in --out (the newest intact step directory "
               "when checkpoints/latest.json is lost)");
  app.add_option("--log-every", options.log_every,
                 "progress and metrics line every N steps (default: val_every_step / k, k >= 4 the "
                 "smallest divisor)")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxCount));
  app.add_flag("--eval-only", eval_only, "only validate the weights given with --weights");
  app.add_option("--weights", weights, "weights for --eval-only (.safetensors or .pt)")
      ->check(CLI::ExistingFile);
  bool allow_nonfinite = false;
  app.add_flag("--allow-nonfinite", allow_nonfinite,
               "--eval-only: take weights with NaN or infinity");
  int nproc_per_node = 0;
  double dist_timeout = 300;
  bool group_for_one = false;
  app.add_option("--nproc-per-node", nproc_per_node,
                 "start N local ranks of a data-parallel run (Gloo on the CPU, NCCL on CUDA); "
                 "under torchrun or srun leave it out")
      ->check(xlstm::apps::whole_number(1, 1024));
  app.add_option("--dist-timeout", dist_timeout,
                 "seconds a rank waits for the others (set-up, every collective) before it stops "
                 "with an error naming the rank that is missing")
      ->check(xlstm::apps::finite_number(0.001, 1e7))
      ->capture_default_str();
  app.add_flag("--process-group", group_for_one,
               "build a process group even for a world of 1 (measures what it costs)");
  int threads = 0;
  app.add_option("--threads", threads,
                 "intra-op CPU threads (0: OMP_NUM_THREADS, else one per core)")
      ->check(CLI::Range(0, xlstm::apps::max_cpu_threads()));
  if (const auto code = xlstm::apps::parse_command_line(app, argc, argv, "xlstm-train"))
    return *code;
  xlstm::apps::set_cpu_threads(threads);

  return xlstm::apps::run_main("xlstm-train", [&] {
    if (nproc_per_node > 1 && !std::getenv("WORLD_SIZE")) return launch(nproc_per_node, argc, argv);
    xlstm::stop_with_launcher();                           // a rank of our launcher ends with it
    options.stop_requested = xlstm::apps::stop_requested;  // the handlers come before train()
    xlstm::io::protect_input(config_path);
    if (!weights.empty()) xlstm::io::protect_input(weights);
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

    xlstm::DistributedOptions distributed;
    distributed.device = config.training.device;
    distributed.timeout = std::chrono::milliseconds(static_cast<int64_t>(dist_timeout * 1000));
    distributed.group_for_single_process = group_for_one;
    options.communicator =
        xlstm::Communicator::connect(xlstm::DistributedEnv::from_environment(), distributed);
    const bool main_rank = options.communicator->is_main();
    // Only rank 0 prints (the others' errors still go to stderr).
    std::ostream quiet(nullptr);
    std::ostream& out = main_rank ? std::cout : quiet;
    options.log = &out;
    xlstm::Trainer trainer(config, options);
    int64_t parameters = 0;
    for (const auto& named : trainer.model()->unique_named_parameters())
      parameters += named.second.numel();
    out << "xlstm-train: " << config_path << ": " << config.model.num_blocks
        << " blocks (block map " << config.model._block_map << "), embedding_dim "
        << config.model.embedding_dim << ", " << parameters << " parameters, dataset "
        << config.dataset.name << "\n"
        << xlstm::apps::cpu_runtime_report() << std::endl;

    if (eval_only) {
      const auto tensors = xlstm::io::read_weights(weights);
      if (!allow_nonfinite) xlstm::apps::refuse_nonfinite(tensors, "weights '" + weights + "'");
      xlstm::io::load_state_dict(trainer.model()->module(), tensors, /*strict=*/true);
      const auto results = trainer.validate();
      out << "validation of " << weights << ":\n";
      print_validation(out, results);
      return 0;
    }
    // Only now: before, during set-up and validation, a signal ends the process at once.
    xlstm::apps::install_stop_signals();
    const auto summary = trainer.train();
    if (summary.nothing_to_do) return 0;  // the trainer said so
    const int64_t run_steps = summary.steps - summary.first_step;
    out << "done: step " << summary.steps << " (" << run_steps << " this run) in " << std::fixed
        << std::setprecision(1) << summary.seconds << " s of training, " << std::setprecision(2)
        << summary.steps_per_second << " steps/s, " << std::setprecision(0)
        << summary.tokens_per_second << " tokens/s\n"
        << "  train (last interval): loss " << std::setprecision(4) << summary.loss << "  accuracy "
        << summary.accuracy << "\n";
    print_validation(out, summary.validation);
    if (!options.out_dir.empty()) out << "metrics: " << options.out_dir << "/metrics.jsonl\n";
    if (!summary.stopped) return 0;
    if (main_rank) report_stop(summary, config.training.num_steps, options.out_dir, argc, argv);
    return xlstm::apps::stop_signal() ? xlstm::apps::stop_exit_code() : 0;
  });
}
