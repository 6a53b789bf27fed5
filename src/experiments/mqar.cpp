#include "xlstm/experiments/mqar.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "../config/check.h"
#include "xlstm/config/error.h"
#include "xlstm/experiments/random.h"

namespace xlstm {
namespace experiments {
using namespace config_check;
namespace {

// Zoology's MQAR segments (input_seq_len, num_kv_pairs).
const std::vector<MqarSplitConfig> kZoologyTrainShapes = {
    {64, 4}, {128, 8}, {256, 16}, {256, 32}, {256, 64}};
const std::vector<MqarSplitConfig> kZoologyTestShapes = {
    {64, 4}, {64, 8}, {64, 16}, {128, 32}, {256, 64}, {512, 128}, {1024, 256}};

std::vector<MqarConfig> zoology_splits(int64_t vocab_size, uint64_t seed, const char* prefix,
                                       const std::vector<MqarSplitConfig>& shapes) {
  MqarConfig data_set;
  data_set.vocab_size = static_cast<int>(vocab_size);
  data_set.seed = static_cast<int64_t>(seed);
  std::vector<MqarConfig> splits;
  for (const auto& shape : shapes) {
    splits.push_back(data_set.split(prefix, shape));
    splits.back().validate();
  }
  return splits;
}

}  // namespace

void MqarConfig::validate() const {
  if (num_kv_pairs < 1) {
    throw ConfigError("num_kv_pairs", "must be positive, got " + std::to_string(num_kv_pairs));
  }
  if (input_seq_len <= 0 || input_seq_len % 2 != 0) {
    throw ConfigError("input_seq_len",
                      "must be positive and even, got " + std::to_string(input_seq_len));
  }
  if (4 * num_kv_pairs > input_seq_len) {
    throw ConfigError("num_kv_pairs", "4 * num_kv_pairs must be <= input_seq_len = " +
                                          std::to_string(input_seq_len) + ", got " +
                                          std::to_string(num_kv_pairs));
  }
  if (vocab_size <= input_seq_len) {
    throw ConfigError("vocab_size", "must be > input_seq_len " + std::to_string(input_seq_len) +
                                        ", got " + std::to_string(vocab_size));
  }
  if (!(power_a > 0.0) || !std::isfinite(power_a)) {
    throw ConfigError("power_a", "must be a positive number, got " + std::to_string(power_a));
  }
}

void MqarConfig::finalize() {
  validate();
  non_negative(count.train, "count.train");
  positive(count.validation, "count.validation");
  if (!validation) return;
  for (size_t i = 0; i < validation->size(); ++i)
    nested("validation[" + std::to_string(i) + "]",
           [&] { split("", (*validation)[i]).validate(); });
}

MqarConfig MqarConfig::split(const std::string& prefix, const MqarSplitConfig& shape) const {
  MqarConfig result = *this;
  result.input_seq_len = shape.input_seq_len;
  result.num_kv_pairs = shape.num_kv_pairs;
  result.seed =
      static_cast<int64_t>(derive_split_seed(static_cast<uint64_t>(seed), prefix + result.name()));
  result.validation.reset();
  return result;
}

int64_t MqarConfig::query_space() const {
  return (input_seq_len - 2 * num_kv_pairs) / 2;
}

std::string MqarConfig::name() const {
  return "L" + std::to_string(input_seq_len) + "_kv" + std::to_string(num_kv_pairs);
}

MqarExample generate_mqar_example(const MqarConfig& options, uint64_t example_seed) {
  options.validate();
  Rng rng(example_seed);
  const int64_t n = options.num_kv_pairs;
  const int64_t half = options.vocab_size / 2;
  MqarExample ex;
  ex.keys = rng.sample_without_replacement(1, half - 1, n);
  ex.values = rng.sample_without_replacement(half, options.vocab_size - 1, n);
  // Zoology's power law p_g ~ power_a * (g+1)^(power_a-1); the factor power_a cancels.
  std::vector<double> weights(static_cast<size_t>(options.query_space()));
  for (size_t g = 0; g < weights.size(); ++g) {
    weights[g] = std::pow(static_cast<double>(g + 1), options.power_a - 1.0);
  }
  ex.gaps = rng.weighted_sample_without_replacement(weights, n);

  ex.inputs.assign(static_cast<size_t>(options.input_seq_len), 0);
  ex.targets.assign(static_cast<size_t>(options.input_seq_len), kIgnoreIndex);
  for (int64_t j = 0; j < n; ++j) {
    ex.inputs[2 * j] = ex.keys[j];
    ex.inputs[2 * j + 1] = ex.values[j];
    const int64_t query = 2 * n + 2 * ex.gaps[j];
    ex.inputs[query] = ex.keys[j];
    ex.targets[query] = ex.values[j];  // predicted at the query token itself
  }
  if (options.random_non_queries) {
    for (auto& token : ex.inputs) {
      if (token == 0) token = rng.uniform_int(0, options.vocab_size - 1);
    }
  }
  return ex;
}

MqarGenerator::MqarGenerator(MqarConfig options, int64_t count)
    : options_(options), cursor_(count) {
  options_.validate();
}

MqarExample MqarGenerator::example(int64_t index) const {
  TORCH_CHECK(index >= 0, "MqarGenerator::example: negative index ", index);
  return generate_mqar_example(options_, derive_example_seed(static_cast<uint64_t>(options_.seed),
                                                             static_cast<uint64_t>(index)));
}

Batch MqarGenerator::batch(int64_t first, int64_t batch_size) const {
  TORCH_CHECK(batch_size > 0, "MqarGenerator::batch: batch_size must be > 0, got ", batch_size);
  const int64_t length = options_.input_seq_len;
  auto inputs = torch::empty({batch_size, length}, torch::kLong);
  auto targets = torch::empty({batch_size, length}, torch::kLong);
  for (int64_t b = 0; b < batch_size; ++b) {
    const MqarExample ex = example(first + b);
    std::copy(ex.inputs.begin(), ex.inputs.end(), inputs.data_ptr<int64_t>() + b * length);
    std::copy(ex.targets.begin(), ex.targets.end(), targets.data_ptr<int64_t>() + b * length);
  }
  return {inputs, targets};
}

Batch MqarGenerator::next_batch(int64_t batch_size) {
  const auto [first, size] = cursor_.advance(batch_size);
  return batch(first, size);
}

std::vector<MqarConfig> mqar_train_splits(int64_t vocab_size, uint64_t seed) {
  return zoology_splits(vocab_size, seed, "train_", kZoologyTrainShapes);
}

std::vector<MqarConfig> mqar_validation_splits(int64_t vocab_size, uint64_t seed) {
  return zoology_splits(vocab_size, seed, "validation_", kZoologyTestShapes);
}

std::vector<Batch> build_mqar_validation_set(const MqarConfig& options, int64_t count,
                                             int64_t batch_size) {
  return build_validation_batches<MqarGenerator>(options, count, batch_size);
}

ExperimentData mqar_data(const MqarConfig& config, int64_t batch_size) {
  const MqarGenerator train(config.split("train_", {config.input_seq_len, config.num_kv_pairs}));
  std::vector<ValidationSplit> validation;
  for (const auto& shape : config.validation.value_or(kZoologyTestShapes)) {
    const MqarConfig split = config.split("validation_", shape);
    validation.push_back({"validation_" + split.name(),
                          build_mqar_validation_set(split, config.count.validation, batch_size)});
  }
  const int64_t max_length = longest_sequence(validation, config.input_seq_len);
  return {TrainStream([train](int64_t first, int64_t size) { return train.batch(first, size); },
                      config.count.train, batch_size),
          std::move(validation), config.vocab_size, max_length};
}

}  // namespace experiments
}  // namespace xlstm
