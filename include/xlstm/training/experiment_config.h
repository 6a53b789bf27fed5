// The experiment file of the official `experiments/*.yaml` (read by `experiments/main.py`), the
// trainer's input: a `training` section, the `model` (an xLSTMLMModelConfig) and the `dataset` (a
// name from the dataset table and its kwargs).
#pragma once

#include <any>
#include <cstdint>
#include <string>
#include <vector>

#include "xlstm/config/error.h"
#include "xlstm/config/overrides.h"
#include "xlstm/config/xlstm.h"
#include "xlstm/config/yaml.h"

namespace xlstm {

/// The `training` section: every key that main.py reads.
struct TrainingConfig {
  int batch_size = 256;
  double lr = 1e-3;
  int64_t seed = 42;
  int val_every_step = 200;
  int lr_warmup_steps = 2000;
  int lr_decay_until_steps = -1;  // -1: num_steps (the official files write `${.num_steps}`)
  double lr_decay_factor = 1e-3;  // the final learning rate is lr * lr_decay_factor
  double weight_decay = 0.1;
  int num_steps = 20000;
  std::string device = "cpu";              // "cpu" | "cuda"
  std::string amp_precision = "bfloat16";  // "float32" | "bfloat16" | "float16"
  std::string weight_precision = "float32";
  bool enable_mixed_precision = false;
  // Beyond the official files (docs/distributed.md): batch_size is the global batch of a step,
  // each rank's share of it runs in grad_accumulation_steps micro-batches; zero_stage 1 shards
  // the AdamW moments over the ranks.
  int grad_accumulation_steps = 1;
  int zero_stage = 0;

  void finalize();
};

/// The `dataset` section: `name` picks a row of the dataset table (src/experiments/datasets.cpp:
/// name, kwargs struct, data factory), and `kwargs` holds that row's kwargs struct, e.g.
/// experiments::FormalLanguageConfig for `form_language`.
struct DatasetConfig {
  std::string name;
  std::any kwargs;

  /// The table's first dataset (form_language) with its default kwargs.
  DatasetConfig();

  /// The kwargs as `Kwargs`; a ConfigError when they hold another dataset's struct.
  template <class Kwargs>
  const Kwargs& kwargs_as() const {
    if (const auto* held = std::any_cast<Kwargs>(&kwargs)) return *held;
    throw ConfigError("kwargs", "the kwargs of dataset '" + name + "' are another struct");
  }
  /// The kwargs as `Kwargs`, default ones first when they hold another struct (finalize() keeps
  /// only kwargs of the named dataset's struct).
  template <class Kwargs>
  Kwargs& kwargs_as() {
    if (!std::any_cast<Kwargs>(&kwargs)) kwargs = Kwargs{};
    return *std::any_cast<Kwargs>(&kwargs);
  }

  /// The dataset names of the table, in its order.
  static const std::vector<std::string>& dataset_names();
  void finalize();
};

struct ExperimentConfig {
  TrainingConfig training;
  xLSTMLMModelConfig model;
  DatasetConfig dataset;

  void finalize();
};

/// load_config<ExperimentConfig>: an experiment file (`training`, `model`, `dataset`).
ExperimentConfig load_experiment_config(const std::string& path,
                                        const std::vector<ConfigOverride>& overrides = {});

}  // namespace xlstm
