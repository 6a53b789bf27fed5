// Shared pieces of the trainer tests: a tiny parity experiment and metrics.jsonl reading.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/json.h"
#include "xlstm/training/experiment_config.h"
#include "xlstm/training/trainer.h"

namespace xlstm::testing {

/// One sLSTM block of 8 dimensions on parity of 3..6 digits (context 8): a few ms per step.
/// lr_decay_until_steps is fixed, so runs of different lengths share one schedule.
inline std::string tiny_parity_yaml(int num_steps, double dropout = 0.0) {
  return "training:\n  batch_size: 16\n  lr: 0.01\n  seed: 7\n  val_every_step: 1000\n"
         "  lr_warmup_steps: 2\n  lr_decay_until_steps: 200\n  lr_decay_factor: 0.1\n"
         "  weight_decay: 0.1\n  num_steps: " +
         std::to_string(num_steps) +
         "\n  device: cpu\n"
         "model:\n  num_blocks: 1\n  embedding_dim: 8\n  dropout: " +
         std::to_string(dropout) +
         "\n  slstm_block:\n    slstm:\n      num_heads: 1\n  slstm_at: [0]\n"
         "  context_length: 8\n  vocab_size: 3\n"
         "dataset:\n  name: form_language\n  kwargs:\n    synth_lang_type: parity\n"
         "    vocab_size: 3\n    seed: 1\n    enable_mask: true\n    context_length: 8\n"
         "    min_sequence_length: 3\n    max_sequence_length: 6\n"
         "    count: {train: 100000, validation: 64, test: 64}\n";
}

inline ExperimentConfig tiny_parity(int num_steps, double dropout = 0.0) {
  return from_yaml_string<ExperimentConfig>(tiny_parity_yaml(num_steps, dropout), "tiny_parity");
}

/// Options that write to `out_dir` and log every `log_every` steps.
inline TrainerOptions quiet_options(const std::string& out_dir, int64_t log_every) {
  TrainerOptions options;
  options.out_dir = out_dir;
  options.log_every = log_every;
  return options;
}

/// The lines of a metrics.jsonl file, parsed (a line that is not JSON fails the test): the step
/// lines, or with `headers` the {"run": ...} header line of each run.
inline std::vector<io::json::Value> read_metrics(const std::string& path, bool headers = false) {
  std::ifstream in(path);
  std::vector<io::json::Value> lines;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    try {
      auto value = io::json::parse(line);
      if ((value.find("run") != nullptr) == headers) lines.push_back(std::move(value));
    } catch (const std::exception& e) {
      ADD_FAILURE() << path << ": line " << number << " is not JSON: " << e.what();
    }
  }
  return lines;
}

inline double number(const io::json::Value& object, const std::string& key) {
  const auto* value = object.find(key);
  EXPECT_TRUE(value && value->kind == io::json::Value::Kind::number) << "no number '" << key << "'";
  return value ? std::stod(value->text) : 0.0;
}

}  // namespace xlstm::testing
