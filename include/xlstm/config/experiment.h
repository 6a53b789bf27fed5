// The experiment file of the official `experiments/*.yaml` (read by `experiments/main.py`): a
// `training` section, the `model` (an xLSTMLMModelConfig) and the `dataset` (a name and its
// kwargs).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

  void finalize();
};

/// One `subpar` entry: overrides of the sequence lengths for one split part (e.g. `validation`).
struct SequenceLengthOverride {
  std::optional<int> min_sequence_length;
  std::optional<int> max_sequence_length;
};

/// The number of sequences per split (Python: the `count` dict; every split is read, so the Python
/// default, which names only train and validation, fails for test; here each defaults to 1).
struct SplitCounts {
  int64_t train = 1;
  int64_t validation = 1;
  int64_t test = 1;
};

/// Python `FormLangDatasetConfig` (experiments/data/formal_language/formal_language_dataset.py):
/// the arguments of the task generators plus the dataset options; defaults as the Python dataclass
/// has them.
struct FormLangDatasetConfig {
  std::string synth_lang_type =
      "parity";  // parity | cycle_navigation | even_pairs | modular_arithmetic
  int vocab_size = 3;
  int context_length = 20;
  std::optional<int> min_sequence_length;  // null: max_sequence_length
  std::optional<int> max_sequence_length;  // null: context_length
  int max_step_size = 1;                   // cycle_navigation only
  int batch_size = 1;                      // sequences per generator call
  int pad_idx = 0;
  int64_t seed = 42;
  SplitCounts count;
  /// Per split part (key starting with train / validation / test): sequence length overrides.
  std::optional<std::map<std::string, SequenceLengthOverride>> subpar;
  int shift = 1;
  bool enable_mask = false;
  int additional_prefix_tokens = 0;
  int additional_suffix_tokens = 0;
  int additional_premask_tokens = 0;

  void finalize();
};

/// One MQAR split: the sequence length and the number of key-value pairs (Zoology's segment).
struct MqarSplitConfig {
  int input_seq_len = 64;
  int num_kv_pairs = 4;
};

/// Examples per MQAR split: `train` 0 is an endless stream; `validation` per validation split.
struct MqarCounts {
  int64_t train = 0;
  int64_t validation = 1000;
};

/// The kwargs of `dataset.name: mqar` (multi-query associative recall, Zoology's multiquery_ar):
/// training on one (input_seq_len, num_kv_pairs) split, validation on the `validation` splits
/// (null: Zoology's test segments, see mqar_validation_splits in xlstm/experiments/mqar.h).
struct MqarDatasetConfig {
  int vocab_size = 8192;
  int input_seq_len = 64;
  int num_kv_pairs = 4;
  double power_a = 0.01;
  bool random_non_queries = true;
  int64_t seed = 42;
  MqarCounts count;
  std::optional<std::vector<MqarSplitConfig>> validation;

  void finalize();
};

/// The `dataset` section: `name` selects which struct holds the `kwargs`.
/// To add a dataset: a struct for its kwargs, a member here, and a case in `dataset_names()`,
/// `DatasetConfig::finalize()` and the kwargs dispatch in src/config/experiment.cpp.
struct DatasetConfig {
  std::string name = "form_language";
  FormLangDatasetConfig form_language;  // the kwargs when name == "form_language"
  MqarDatasetConfig mqar;               // the kwargs when name == "mqar"

  /// The dataset names this build knows.
  static const std::vector<std::string>& dataset_names();
  void finalize();
};

struct ExperimentConfig {
  TrainingConfig training;
  xLSTMLMModelConfig model;
  DatasetConfig dataset;

  void finalize();
};

template <>
struct is_yaml_config<TrainingConfig> : std::true_type {};
template <>
struct is_yaml_config<FormLangDatasetConfig> : std::true_type {};
template <>
struct is_yaml_config<MqarDatasetConfig> : std::true_type {};
template <>
struct is_yaml_config<DatasetConfig> : std::true_type {};
template <>
struct is_yaml_config<ExperimentConfig> : std::true_type {};

std::string to_yaml(const TrainingConfig& config);
std::string to_yaml(const FormLangDatasetConfig& config);
std::string to_yaml(const MqarDatasetConfig& config);
std::string to_yaml(const DatasetConfig& config);
std::string to_yaml(const ExperimentConfig& config);

/// What a config file holds, as `xlstm-config --kind auto` decides it: an experiment when it has a
/// `model` section, an LM model when it has `vocab_size`, else a block stack.
enum class ConfigFileKind { BlockStack, LMModel, Experiment };
ConfigFileKind detect_config_file_kind(const std::string& path);

}  // namespace xlstm
