#include "xlstm/experiments/formal_language.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "../config/check.h"
#include "xlstm/config/error.h"
#include "xlstm/experiments/random.h"

namespace xlstm {
namespace experiments {
using namespace config_check;
namespace {

// Python's `a % m` for m > 0 (never negative).
int64_t python_mod(int64_t a, int64_t m) {
  return ((a % m) + m) % m;
}

bool needs_two_data_tokens(const std::string& task) {
  return task == "even_pairs" || task == "modular_arithmetic";
}

int64_t minimum_vocab_size(const FormalLanguageConfig& o) {
  // pad, 2*max_step_size+1 steps, >= 1 cycle position (so the official clamp of max_step_size to
  // vocab_size // 2 never applies to a valid configuration)
  if (o.synth_lang_type == "cycle_navigation") return 2 * o.max_step_size + 3;
  if (o.synth_lang_type == "modular_arithmetic") return 6;  // pad, + - * =, >= 1 number
  return 3;                                                 // pad and two symbols
}

// The answer is written at size-1; data tokens fill [0, size-1).
void parity(Rng& rng, const FormalLanguageConfig& o, FormalLanguageExample& ex) {
  int64_t sum = 0;
  for (int64_t i = 0; i + 1 < ex.size; ++i) {
    ex.tokens[i] = rng.uniform_int(1, o.vocab_size - 1);
    sum += ex.tokens[i] - 1;  // token t stands for the digit t-1
  }
  ex.tokens[ex.size - 1] = python_mod(sum, o.vocab_size - 1) + 1;
}

void cycle_navigation(Rng& rng, const FormalLanguageConfig& o, FormalLanguageExample& ex) {
  const int64_t max_step = o.max_step_size;
  const int64_t cycle_size = o.vocab_size - 2 - 2 * max_step;
  int64_t position = 0;
  for (int64_t i = 0; i + 1 < ex.size; ++i) {
    const int64_t t = rng.uniform_int(1, 2 * max_step + 1);
    ex.tokens[i] = t;
    position += t <= max_step + 1 ? t - 1 : max_step + 1 - t;  // 1 -> 0, 2 -> +1, 3 -> -1, ...
  }
  ex.tokens[ex.size - 1] = python_mod(position, cycle_size) + 2 * max_step + 2;
}

void even_pairs(Rng& rng, const FormalLanguageConfig& o, FormalLanguageExample& ex) {
  for (int64_t i = 0; i + 1 < ex.size; ++i) ex.tokens[i] = rng.uniform_int(1, o.vocab_size - 1);
  // The official cumulative sum of neighbour differences telescopes to last - first.
  ex.tokens[ex.size - 1] = std::llabs(ex.tokens[ex.size - 2] - ex.tokens[0]) + 1;
}

// Tokens: 1 '+', 2 '-', 3 '*', 4 '=', 5.. the numbers 0..vocab_size-6; '*' binds tighter.
void modular_arithmetic(Rng& rng, const FormalLanguageConfig& o, FormalLanguageExample& ex) {
  const int64_t modulus = o.vocab_size - 5;
  int64_t total = 0, product = 0, sign = 1;
  for (int64_t i = 0; i + 2 < ex.size; ++i) {
    if (i % 2 == 0) {
      const int64_t number = rng.uniform_int(0, modulus - 1);
      ex.tokens[i] = number + 5;
      product = i == 0 || ex.tokens[i - 1] != 3 ? number : product * number % modulus;
    } else {
      const int64_t op = rng.uniform_int(1, 3);
      ex.tokens[i] = op;
      if (op != 3) {
        total = python_mod(total + sign * product, modulus);
        sign = op == 2 ? -1 : 1;
      }
    }
  }
  total = python_mod(total + sign * product, modulus);
  ex.tokens[ex.size - 2] = 4;
  ex.tokens[ex.size - 1] = total + 5;
}

// Official sizes: uniform in [min, max]; modular_arithmetic draws odd sizes 2k-1 with
// k in [ceil(min/2), ceil(max/2)] (so an even min admits min-1).
int64_t draw_size(Rng& rng, const FormalLanguageConfig& o) {
  const int64_t min_length = o.min_length(), max_length = o.max_length();
  if (o.synth_lang_type == "modular_arithmetic") {
    const int64_t low = std::min((min_length + 1) / 2, (max_length + 1) / 2);
    return 2 * rng.uniform_int(low, (max_length + 1) / 2) - 1;
  }
  return rng.uniform_int(min_length, max_length);
}

}  // namespace

void FormalLanguageConfig::validate() const {
  const std::string& task = synth_lang_type;
  if (task != "parity" && task != "cycle_navigation" && task != "even_pairs" &&
      task != "modular_arithmetic") {
    throw ConfigError("synth_lang_type", "unknown formal-language task '" + task +
                                             "' (parity, cycle_navigation, even_pairs, "
                                             "modular_arithmetic)");
  }
  if (task == "cycle_navigation" && max_step_size < 1) {
    throw ConfigError("max_step_size", "must be >= 1, got " + std::to_string(max_step_size));
  }
  if (vocab_size < minimum_vocab_size(*this)) {
    throw ConfigError("vocab_size",
                      task + " needs vocab_size >= " + std::to_string(minimum_vocab_size(*this)) +
                          ", got " + std::to_string(vocab_size));
  }
  if (context_length < 2) {
    throw ConfigError("context_length", "must be >= 2, got " + std::to_string(context_length));
  }
  if (std::abs(shift) >= context_length) {
    throw ConfigError("shift", "|shift| must be < context_length " +
                                   std::to_string(context_length) + ", got " +
                                   std::to_string(shift));
  }
  const int lowest = needs_two_data_tokens(task) ? 3 : 1;
  if (min_length() < lowest) {
    throw ConfigError("min_sequence_length",
                      task + " needs min_sequence_length >= " + std::to_string(lowest) + ", got " +
                          std::to_string(min_length()));
  }
  if (max_length() > context_length) {
    throw ConfigError("max_sequence_length",
                      "must be <= context_length = " + std::to_string(context_length) + ", got " +
                          std::to_string(max_length()));
  }
  if (max_length() < min_length()) {
    throw ConfigError("max_sequence_length",
                      "must be >= min_sequence_length = " + std::to_string(min_length()) +
                          ", got " + std::to_string(max_length()));
  }
}

void FormalLanguageConfig::finalize() {
  validate();
  positive(batch_size, "batch_size");
  non_negative(max_step_size, "max_step_size");
  non_negative(additional_prefix_tokens, "additional_prefix_tokens");
  non_negative(additional_suffix_tokens, "additional_suffix_tokens");
  non_negative(additional_premask_tokens, "additional_premask_tokens");
  positive(count.train, "count.train");
  positive(count.validation, "count.validation");
  positive(count.test, "count.test");
  if (!subpar) return;
  for (const auto& entry : *subpar) {
    const std::string& part = entry.first;  // not a structured binding: the lambda captures it
    require(part.rfind("train", 0) == 0 || part.rfind("validation", 0) == 0 ||
                part.rfind("test", 0) == 0,
            "subpar." + part, "a split part must start with train, validation or test");
    nested("subpar." + part, [&] { split(part).validate(); });
  }
}

FormalLanguageConfig FormalLanguageConfig::split(const std::string& part) const {
  FormalLanguageConfig result = *this;
  if (subpar) {
    const auto found = subpar->find(part);
    if (found != subpar->end()) {
      if (found->second.min_sequence_length)
        result.min_sequence_length = found->second.min_sequence_length;
      if (found->second.max_sequence_length)
        result.max_sequence_length = found->second.max_sequence_length;
    }
  }
  result.max_sequence_length = result.max_length();
  result.min_sequence_length = result.min_length();
  result.seed = static_cast<int64_t>(derive_split_seed(static_cast<uint64_t>(seed), part));
  result.subpar.reset();
  return result;
}

int FormalLanguageConfig::max_length() const {
  return max_sequence_length.value_or(context_length);
}

int FormalLanguageConfig::min_length() const {
  return min_sequence_length.value_or(max_length());
}

int64_t FormalLanguageConfig::batch_sequence_length() const {
  return context_length - std::abs(shift);
}

FormalLanguageExample generate_formal_language_example(const FormalLanguageConfig& options,
                                                       uint64_t example_seed) {
  options.validate();  // the writes below rely on size <= context_length
  Rng rng(example_seed);
  FormalLanguageExample ex;
  ex.tokens.assign(static_cast<size_t>(options.context_length), 0);
  ex.mask.assign(static_cast<size_t>(options.context_length), 0);
  ex.size = draw_size(rng, options);
  if (options.synth_lang_type == "parity") {
    parity(rng, options, ex);
  } else if (options.synth_lang_type == "cycle_navigation") {
    cycle_navigation(rng, options, ex);
  } else if (options.synth_lang_type == "even_pairs") {
    even_pairs(rng, options, ex);
  } else {
    modular_arithmetic(rng, options, ex);
  }
  ex.mask[ex.size - 1] = 1;
  return ex;
}

Batch collate_formal_language(const FormalLanguageConfig& options,
                              const std::vector<FormalLanguageExample>& examples) {
  options.validate();
  const int64_t length = options.context_length;
  const int64_t seq_len = options.batch_sequence_length();
  const auto batch_size = static_cast<int64_t>(examples.size());
  auto inputs = torch::empty({batch_size, seq_len}, torch::kLong);
  auto targets = torch::empty({batch_size, seq_len}, torch::kLong);
  auto* in = inputs.data_ptr<int64_t>();
  auto* out = targets.data_ptr<int64_t>();
  // inputs take positions [in_begin, in_begin + seq_len), targets [out_begin, out_begin + seq_len).
  const int64_t in_begin = options.shift < 0 ? -options.shift : 0;
  const int64_t out_begin = options.shift > 0 ? options.shift : 0;
  for (int64_t b = 0; b < batch_size; ++b) {
    const auto& ex = examples[static_cast<size_t>(b)];
    TORCH_CHECK(static_cast<int64_t>(ex.tokens.size()) == length &&
                    static_cast<int64_t>(ex.mask.size()) == length,
                "collate_formal_language: example ", b, " has ", ex.tokens.size(),
                " tokens, expected context_length ", length);
    for (int64_t j = 0; j < seq_len; ++j) {
      const auto i = static_cast<size_t>(in_begin + j);
      const auto o = static_cast<size_t>(out_begin + j);
      const bool mask_in = options.enable_mask && ex.mask[i];
      in[b * seq_len + j] = mask_in ? 0 : ex.tokens[i];  // pad_idx 0 hides the answer
      out[b * seq_len + j] = !options.enable_mask || ex.mask[o] ? ex.tokens[o] : kIgnoreIndex;
    }
  }
  return {inputs, targets};
}

FormalLanguageGenerator::FormalLanguageGenerator(FormalLanguageConfig options, int64_t count)
    : options_(std::move(options)), cursor_(count) {
  options_.validate();
}

FormalLanguageExample FormalLanguageGenerator::example(int64_t index) const {
  TORCH_CHECK(index >= 0, "FormalLanguageGenerator::example: negative index ", index);
  return generate_formal_language_example(
      options_,
      derive_example_seed(static_cast<uint64_t>(options_.seed), static_cast<uint64_t>(index)));
}

Batch FormalLanguageGenerator::batch(int64_t first, int64_t batch_size) const {
  TORCH_CHECK(batch_size > 0, "FormalLanguageGenerator::batch: batch_size must be > 0, got ",
              batch_size);
  std::vector<FormalLanguageExample> examples;
  examples.reserve(static_cast<size_t>(batch_size));
  for (int64_t i = first; i < first + batch_size; ++i) examples.push_back(example(i));
  return collate_formal_language(options_, examples);
}

Batch FormalLanguageGenerator::next_batch(int64_t batch_size) {
  const auto [first, size] = cursor_.advance(batch_size);
  return batch(first, size);
}

std::vector<Batch> build_formal_language_validation_set(const FormalLanguageConfig& options,
                                                        int64_t count, int64_t batch_size) {
  return build_validation_batches<FormalLanguageGenerator>(options, count, batch_size);
}

ExperimentData formal_language_data(const FormalLanguageConfig& config, int64_t batch_size) {
  if (config.pad_idx != 0) throw ConfigError("dataset.kwargs.pad_idx", "only 0 is supported");
  if (config.additional_prefix_tokens || config.additional_suffix_tokens ||
      config.additional_premask_tokens)
    throw ConfigError("dataset.kwargs",
                      "additional_{prefix,suffix,premask}_tokens are not supported");
  const FormalLanguageGenerator train(config.split("train"));
  std::vector<ValidationSplit> validation;
  const auto add_validation = [&](const std::string& part) {
    validation.push_back({part, build_formal_language_validation_set(
                                    config.split(part), config.count.validation, batch_size)});
  };
  if (config.subpar)
    for (const auto& [part, lengths] : *config.subpar)
      if (part.rfind("validation", 0) == 0) add_validation(part);
  if (validation.empty()) add_validation("validation");
  const int64_t max_length = longest_sequence(validation, train.options().batch_sequence_length());
  return {TrainStream([train](int64_t first, int64_t size) { return train.batch(first, size); },
                      config.count.train, batch_size),
          std::move(validation), config.vocab_size, max_length};
}

}  // namespace experiments
}  // namespace xlstm
