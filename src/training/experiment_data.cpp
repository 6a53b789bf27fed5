#include "xlstm/experiments/experiment_data.h"

#include <algorithm>

#include "xlstm/config/error.h"
#include "xlstm/experiments/formal_language.h"
#include "xlstm/experiments/mqar.h"
#include "xlstm/experiments/random.h"

namespace xlstm {
namespace experiments {

TrainStream::TrainStream(MakeBatch make, int64_t count, int64_t batch_size)
    : make_(std::move(make)), cursor_(count), batch_size_(batch_size) {
  TORCH_CHECK(batch_size > 0, "TrainStream: batch_size must be > 0, got ", batch_size);
}

Batch TrainStream::next() {
  const auto [first, size] = cursor_.advance(batch_size_);
  return make_(first, size);
}

void TrainStream::skip(int64_t batches) {
  for (int64_t i = 0; i < batches; ++i) cursor_.advance(batch_size_);
}

namespace {

int64_t longest(const std::vector<ValidationSplit>& splits, int64_t at_least) {
  for (const auto& split : splits)
    for (const auto& batch : split.batches) at_least = std::max(at_least, batch.inputs.size(1));
  return at_least;
}

/// The official FormLangDatasetGenerator's kwargs for one split part: subpar overrides applied.
FormalLanguageOptions formal_language_part(const FormLangDatasetConfig& c,
                                           const std::string& part) {
  if (c.pad_idx != 0) throw ConfigError("dataset.kwargs.pad_idx", "only 0 is supported");
  if (c.additional_prefix_tokens || c.additional_suffix_tokens || c.additional_premask_tokens)
    throw ConfigError("dataset.kwargs",
                      "additional_{prefix,suffix,premask}_tokens are not supported");
  std::optional<int> min_length = c.min_sequence_length, max_length = c.max_sequence_length;
  if (c.subpar) {
    const auto found = c.subpar->find(part);
    if (found != c.subpar->end()) {
      if (found->second.min_sequence_length) min_length = found->second.min_sequence_length;
      if (found->second.max_sequence_length) max_length = found->second.max_sequence_length;
    }
  }
  FormalLanguageOptions options;
  options.task = c.synth_lang_type;
  options.vocab_size = c.vocab_size;
  options.context_length = c.context_length;
  options.max_sequence_length = max_length.value_or(c.context_length);
  options.min_sequence_length = min_length.value_or(options.max_sequence_length);
  options.enable_mask = c.enable_mask;
  options.shift = c.shift;
  options.max_step_size = c.max_step_size;
  options.seed = derive_split_seed(static_cast<uint64_t>(c.seed), part);
  options.validate();
  return options;
}

ExperimentData formal_language_data(const FormLangDatasetConfig& c, int64_t batch_size) {
  const FormalLanguageGenerator train(formal_language_part(c, "train"));
  std::vector<ValidationSplit> validation;
  if (c.subpar)
    for (const auto& [part, lengths] : *c.subpar)
      if (part.rfind("validation", 0) == 0)
        validation.push_back(
            {part, build_formal_language_validation_set(formal_language_part(c, part),
                                                        c.count.validation, batch_size)});
  if (validation.empty())
    validation.push_back(
        {"validation", build_formal_language_validation_set(formal_language_part(c, "validation"),
                                                            c.count.validation, batch_size)});
  const int64_t max_length = longest(validation, train.options().batch_sequence_length());
  return {TrainStream([train](int64_t first, int64_t size) { return train.batch(first, size); },
                      c.count.train, batch_size),
          std::move(validation), c.vocab_size, max_length};
}

ExperimentData mqar_data(const MqarDatasetConfig& c, int64_t batch_size) {
  MqarOptions options;
  options.vocab_size = c.vocab_size;
  options.input_seq_len = c.input_seq_len;
  options.num_kv_pairs = c.num_kv_pairs;
  options.power_a = c.power_a;
  options.random_non_queries = c.random_non_queries;
  const uint64_t seed = static_cast<uint64_t>(c.seed);
  options.seed = derive_split_seed(seed, "train_" + options.name());
  options.validate();
  const MqarGenerator train(options);

  std::vector<MqarOptions> splits;
  if (c.validation) {
    for (const auto& split : *c.validation) {
      MqarOptions s = options;
      s.input_seq_len = split.input_seq_len;
      s.num_kv_pairs = split.num_kv_pairs;
      s.seed = derive_split_seed(seed, "validation_" + s.name());
      splits.push_back(s);
    }
  } else {
    splits = mqar_validation_splits(c.vocab_size, seed);
    for (auto& s : splits) {
      s.power_a = c.power_a;
      s.random_non_queries = c.random_non_queries;
    }
  }
  std::vector<ValidationSplit> validation;
  for (const auto& s : splits) {
    s.validate();
    validation.push_back(
        {"validation_" + s.name(), build_mqar_validation_set(s, c.count.validation, batch_size)});
  }
  const int64_t max_length = longest(validation, c.input_seq_len);
  return {TrainStream([train](int64_t first, int64_t size) { return train.batch(first, size); },
                      c.count.train, batch_size),
          std::move(validation), c.vocab_size, max_length};
}

}  // namespace

ExperimentData make_experiment_data(const DatasetConfig& dataset, int64_t batch_size) {
  if (dataset.name == "form_language")
    return formal_language_data(dataset.form_language, batch_size);
  if (dataset.name == "mqar") return mqar_data(dataset.mqar, batch_size);
  throw ConfigError("dataset.name", "unknown dataset '" + dataset.name + "'");
}

}  // namespace experiments
}  // namespace xlstm
