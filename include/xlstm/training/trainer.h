// The training loop of the official experiments/main.py for an ExperimentConfig: seed, AdamW with
// the weight-decay / no-decay groups, LinearWarmupCosineAnnealing, weight precision, CUDA autocast,
// cross entropy with ignore index -1, accuracy on the target positions, validation every
// val_every_step on every validation split. Beyond it: gradient clipping, progress lines,
// metrics.jsonl, atomic checkpoints with resume, and batches prefetched on a worker thread. The
// loop takes any LanguageModel and any ExperimentData; an experiment file gives an xLSTMLMModel
// and the data of its dataset.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xlstm/training/experiment_config.h"
#include "xlstm/training/experiment_data.h"
#include "xlstm/training/language_model.h"

namespace xlstm {

class Communicator;

struct TrainerOptions {
  /// metrics.jsonl, config.yaml (the resolved config), summary.json and checkpoints/ go here;
  /// empty: no files at all.
  std::string out_dir;
  /// Overrides training.device ("cpu" | "cuda").
  std::optional<std::string> device;
  /// Clips the global L2 norm of the gradients to this value; 0: no clipping (the official loop).
  double grad_clip = 0.0;
  /// Checkpoint every this many steps (and always at the end when out_dir is set); 0: only at the
  /// end.
  int64_t checkpoint_every = 0;
  /// Continue from the newest checkpoint in out_dir/checkpoints (a fresh start when there is none);
  /// when latest.json is missing or broken, from the newest intact step directory. Without it an
  /// out_dir that holds checkpoints is refused.
  bool resume = false;
  /// Progress line and metrics.jsonl line every this many steps (also at validation steps and at
  /// the end); 0: val_every_step / k for the smallest k >= 4 that divides it (50 for 200 or 250).
  int64_t log_every = 0;
  /// Training batches generated ahead of the loop.
  size_t prefetch = 4;
  /// Where progress goes; nullptr: silent.
  std::ostream* log = nullptr;
  /// The data-parallel job this process is a rank of (Communicator::connect; docs/distributed.md);
  /// nullptr: a single process. Only rank 0 logs and writes files.
  std::shared_ptr<Communicator> communicator;
  /// Asked after every step (a signal handler's flag, say): true ends the run after that step with
  /// a checkpoint (with out_dir) and the summary, TrainSummary::stopped set. Over several ranks
  /// the answers are combined (one all-reduce of a flag per step), so all stop after the same
  /// step; set it on every rank or on none. Empty: never asked.
  std::function<bool()> stop_requested;
};

struct ValidationResult {
  std::string split;  ///< "validation", a subpar part, or "validation_L64_kv4" for MQAR
  double loss;        ///< mean of the batch losses (as main.py)
  double accuracy;    ///< correct / target positions over the split
};

struct TrainSummary {
  int64_t first_step = 0;                    ///< step the run started from (> 0 after a resume)
  int64_t steps = 0;                         ///< step reached
  double loss = 0.0;                         ///< mean training loss over the last logging interval
  double accuracy = 0.0;                     ///< training accuracy over the last logging interval
  std::vector<ValidationResult> validation;  ///< the last validation (always run at the end)
  double seconds = 0.0;                      ///< training time of this run (validation excluded)
  double steps_per_second = 0.0;
  double tokens_per_second = 0.0;  ///< input tokens (batch x sequence length) per second
  bool stopped = false;            ///< ended early by stop_requested, after `steps`
  /// The checkpoint resumed was at or past training.num_steps: nothing ran and no file changed.
  bool nothing_to_do = false;
  std::string checkpoint;  ///< the newest checkpoint this run wrote ("" when none)
};

class Trainer {
 public:
  /// Builds the data (the dataset table's, for config.dataset), the model (an xLSTMLMModel of
  /// config.model: seeded, reset, cast to weight_precision) and the optimizer.
  /// Throws ConfigError / CheckpointError / c10::Error with a message naming the problem.
  Trainer(ExperimentConfig config, TrainerOptions options);
  /// Trains `model` (initialised by the caller; moved to the device and cast to weight_precision
  /// here) on `data`, as config.training says; `config` is what out_dir/config.yaml records.
  Trainer(ExperimentConfig config, std::shared_ptr<LanguageModel> model, ExperimentData data,
          TrainerOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Trains up to training.num_steps (from the checkpoint with resume), validating every
  /// val_every_step and at the end, checkpointing as configured; with out_dir it holds a lock on
  /// out_dir (a second trainer there is refused, naming the holder's pid) and checks that out_dir
  /// is writable before the first step. Every file write is checked (a full disk ends the run with
  /// an error naming the file). Call it once per Trainer.
  TrainSummary train();
  /// Loss and accuracy on every validation split (model in eval mode, no gradients).
  std::vector<ValidationResult> validate();

  std::shared_ptr<LanguageModel> model();
  const ExperimentConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xlstm
