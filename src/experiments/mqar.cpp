#include "xlstm/experiments/mqar.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "xlstm/config/error.h"
#include "xlstm/experiments/random.h"

namespace xlstm {
namespace experiments {
namespace {

std::vector<MqarOptions> zoology_splits(int64_t vocab_size, uint64_t seed, const char* prefix,
                                        const std::vector<std::pair<int64_t, int64_t>>& shapes) {
  std::vector<MqarOptions> splits;
  for (const auto& [input_seq_len, num_kv_pairs] : shapes) {
    MqarOptions o;
    o.vocab_size = vocab_size;
    o.input_seq_len = input_seq_len;
    o.num_kv_pairs = num_kv_pairs;
    o.seed = derive_split_seed(seed, prefix + o.name());
    o.validate();
    splits.push_back(o);
  }
  return splits;
}

}  // namespace

void MqarOptions::validate() const {
  if (num_kv_pairs < 1) {
    throw ConfigError("num_kv_pairs", "must be >= 1, got " + std::to_string(num_kv_pairs));
  }
  if (input_seq_len % 2 != 0 || input_seq_len < 4 * num_kv_pairs) {
    throw ConfigError("input_seq_len",
                      "must be even and >= 4 * num_kv_pairs = " + std::to_string(4 * num_kv_pairs) +
                          ", got " + std::to_string(input_seq_len));
  }
  if (vocab_size <= input_seq_len) {
    throw ConfigError("vocab_size", "must be > input_seq_len " + std::to_string(input_seq_len) +
                                        ", got " + std::to_string(vocab_size));
  }
  if (!(power_a > 0.0) || !std::isfinite(power_a)) {
    throw ConfigError("power_a", "must be a positive number, got " + std::to_string(power_a));
  }
}

int64_t MqarOptions::query_space() const {
  return (input_seq_len - 2 * num_kv_pairs) / 2;
}

std::string MqarOptions::name() const {
  return "L" + std::to_string(input_seq_len) + "_kv" + std::to_string(num_kv_pairs);
}

MqarExample generate_mqar_example(const MqarOptions& options, uint64_t example_seed) {
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

MqarGenerator::MqarGenerator(MqarOptions options, int64_t count)
    : options_(options), cursor_(count) {
  options_.validate();
}

MqarExample MqarGenerator::example(int64_t index) const {
  TORCH_CHECK(index >= 0, "MqarGenerator::example: negative index ", index);
  return generate_mqar_example(options_,
                               derive_example_seed(options_.seed, static_cast<uint64_t>(index)));
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

std::vector<MqarOptions> mqar_train_splits(int64_t vocab_size, uint64_t seed) {
  return zoology_splits(vocab_size, seed, "train_",
                        {{64, 4}, {128, 8}, {256, 16}, {256, 32}, {256, 64}});
}

std::vector<MqarOptions> mqar_validation_splits(int64_t vocab_size, uint64_t seed) {
  return zoology_splits(
      vocab_size, seed, "validation_",
      {{64, 4}, {64, 8}, {64, 16}, {128, 32}, {256, 64}, {512, 128}, {1024, 256}});
}

std::vector<Batch> build_mqar_validation_set(const MqarOptions& options, int64_t count,
                                             int64_t batch_size) {
  return build_validation_batches<MqarGenerator>(options, count, batch_size);
}

}  // namespace experiments
}  // namespace xlstm
