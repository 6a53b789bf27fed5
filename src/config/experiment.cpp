#include "xlstm/config/experiment.h"

#include "check.h"
#include "yaml_fields.h"

namespace xlstm {
using namespace config_check;

namespace {
const std::vector<std::string> kPrecisions = {"float32", "bfloat16", "float16"};
}

void TrainingConfig::finalize() {
  positive(batch_size, "batch_size");
  require(lr > 0.0, "lr", "must be positive");
  positive(val_every_step, "val_every_step");
  positive(num_steps, "num_steps");
  non_negative(lr_warmup_steps, "lr_warmup_steps");
  if (lr_decay_until_steps < 0) lr_decay_until_steps = num_steps;
  require(lr_decay_until_steps >= lr_warmup_steps, "lr_decay_until_steps",
          "must be >= lr_warmup_steps = " + std::to_string(lr_warmup_steps));
  require(lr_decay_factor > 0.0 && lr_decay_factor <= 1.0, "lr_decay_factor", "must be in (0, 1]");
  require(weight_decay >= 0.0, "weight_decay", "must be >= 0");
  one_of(device, {"cpu", "cuda"}, "device");
  one_of(amp_precision, kPrecisions, "amp_precision");
  one_of(weight_precision, kPrecisions, "weight_precision");
}

void FormLangDatasetConfig::finalize() {
  one_of(synth_lang_type, {"parity", "cycle_navigation", "even_pairs", "modular_arithmetic"},
         "synth_lang_type");
  require(vocab_size >= 2, "vocab_size", "must be >= 2 (token 0 is the padding)");
  positive(context_length, "context_length");
  positive(batch_size, "batch_size");
  non_negative(max_step_size, "max_step_size");
  non_negative(additional_prefix_tokens, "additional_prefix_tokens");
  non_negative(additional_suffix_tokens, "additional_suffix_tokens");
  non_negative(additional_premask_tokens, "additional_premask_tokens");
  positive(count.train, "count.train");
  positive(count.validation, "count.validation");
  positive(count.test, "count.test");

  // The generators read a missing maximum as context_length and a missing minimum as the maximum.
  auto check_lengths = [&](std::optional<int> min_length, std::optional<int> max_length,
                           const std::string& prefix) {
    const int max_len = max_length.value_or(context_length);
    const int min_len = min_length.value_or(max_len);
    require(min_len >= 1, prefix + "min_sequence_length", "must be >= 1");
    require(min_len <= max_len, prefix + "min_sequence_length",
            "must be <= max_sequence_length = " + std::to_string(max_len));
    require(max_len <= context_length, prefix + "max_sequence_length",
            "must be <= context_length = " + std::to_string(context_length));
  };
  check_lengths(min_sequence_length, max_sequence_length, "");
  if (!subpar) return;
  for (const auto& [part, lengths] : *subpar) {
    require(part.rfind("train", 0) == 0 || part.rfind("validation", 0) == 0 ||
                part.rfind("test", 0) == 0,
            "subpar." + part, "a split part must start with train, validation or test");
    check_lengths(lengths.min_sequence_length ? lengths.min_sequence_length : min_sequence_length,
                  lengths.max_sequence_length ? lengths.max_sequence_length : max_sequence_length,
                  "subpar." + part + ".");
  }
}

void MqarDatasetConfig::finalize() {
  // The limits of Zoology's asserts (see MqarOptions::validate).
  auto check_split = [&](int seq_len, int kv_pairs, const std::string& prefix) {
    positive(kv_pairs, prefix + "num_kv_pairs");
    require(seq_len > 0 && seq_len % 2 == 0, prefix + "input_seq_len",
            "must be positive and even, got " + std::to_string(seq_len));
    require(4 * kv_pairs <= seq_len, prefix + "num_kv_pairs",
            "4 * num_kv_pairs must be <= input_seq_len = " + std::to_string(seq_len));
    require(seq_len < vocab_size, prefix + "input_seq_len",
            "must be < vocab_size = " + std::to_string(vocab_size));
  };
  check_split(input_seq_len, num_kv_pairs, "");
  require(power_a > 0.0, "power_a", "must be positive");
  non_negative(count.train, "count.train");
  positive(count.validation, "count.validation");
  if (!validation) return;
  for (size_t i = 0; i < validation->size(); ++i)
    check_split((*validation)[i].input_seq_len, (*validation)[i].num_kv_pairs,
                "validation[" + std::to_string(i) + "].");
}

const std::vector<std::string>& DatasetConfig::dataset_names() {
  static const std::vector<std::string> names = {"form_language", "mqar"};
  return names;
}

void DatasetConfig::finalize() {
  one_of(name, dataset_names(), "name");
  if (name == "form_language") nested("kwargs", [&] { form_language.finalize(); });
  if (name == "mqar") nested("kwargs", [&] { mqar.finalize(); });
}

void ExperimentConfig::finalize() {
  nested("training", [&] { training.finalize(); });
  nested("dataset", [&] { dataset.finalize(); });
  nested("model", [&] { model.finalize(); });
}

namespace yaml_detail {

template <class Visitor>
void visit_fields(Visitor& v, TrainingConfig& c) {
  v("batch_size", c.batch_size);
  v("lr", c.lr);
  v("seed", c.seed);
  v("val_every_step", c.val_every_step);
  v("lr_warmup_steps", c.lr_warmup_steps);
  v("lr_decay_until_steps", c.lr_decay_until_steps);
  v("lr_decay_factor", c.lr_decay_factor);
  v("weight_decay", c.weight_decay);
  v("num_steps", c.num_steps);
  v("device", c.device);
  v("amp_precision", c.amp_precision);
  v("weight_precision", c.weight_precision);
  v("enable_mixed_precision", c.enable_mixed_precision);
}

template <class Visitor>
void visit_fields(Visitor& v, SplitCounts& c) {
  v("train", c.train);
  v("validation", c.validation);
  v("test", c.test);
}

template <class Visitor>
void visit_fields(Visitor& v, SequenceLengthOverride& c) {
  v("min_sequence_length", c.min_sequence_length);
  v("max_sequence_length", c.max_sequence_length);
}

template <class Visitor>
void visit_fields(Visitor& v, FormLangDatasetConfig& c) {
  v("synth_lang_type", c.synth_lang_type);
  v("vocab_size", c.vocab_size);
  v("context_length", c.context_length);
  v("min_sequence_length", c.min_sequence_length);
  v("max_sequence_length", c.max_sequence_length);
  v("max_step_size", c.max_step_size);
  v("batch_size", c.batch_size);
  v("pad_idx", c.pad_idx);
  v("seed", c.seed);
  v("count", c.count);
  v("subpar", c.subpar);
  v("shift", c.shift);
  v("enable_mask", c.enable_mask);
  v("additional_prefix_tokens", c.additional_prefix_tokens);
  v("additional_suffix_tokens", c.additional_suffix_tokens);
  v("additional_premask_tokens", c.additional_premask_tokens);
}

template <class Visitor>
void visit_fields(Visitor& v, MqarSplitConfig& c) {
  v("input_seq_len", c.input_seq_len);
  v("num_kv_pairs", c.num_kv_pairs);
}

template <class Visitor>
void visit_fields(Visitor& v, MqarCounts& c) {
  v("train", c.train);
  v("validation", c.validation);
}

void read_value(const Node& node, std::vector<MqarSplitConfig>& value, const Place& place) {
  if (node.kind != Node::Kind::Sequence)
    throw place.error(node, "expected a list of splits, got " + describe(node));
  value.assign(node.items.size(), {});
  for (size_t i = 0; i < node.items.size(); ++i)
    read_value(node.items[i], value[i],
               Place{place.source, place.path + "[" + std::to_string(i) + "]"});
}

void write_value(Emitter& out, std::vector<MqarSplitConfig>& value) {
  out << YAML::BeginSeq;
  for (auto& split : value) {
    out << YAML::Flow;
    write_value(out, split);
  }
  out << YAML::EndSeq;
}

template <class Visitor>
void visit_fields(Visitor& v, MqarDatasetConfig& c) {
  v("vocab_size", c.vocab_size);
  v("input_seq_len", c.input_seq_len);
  v("num_kv_pairs", c.num_kv_pairs);
  v("power_a", c.power_a);
  v("random_non_queries", c.random_non_queries);
  v("seed", c.seed);
  v("count", c.count);
  v("validation", c.validation);
}

template <class Visitor>
void visit_fields(Visitor& v, DatasetConfig& c) {
  v("name", c.name);
  // `kwargs` takes the struct of the named dataset.
  if (c.name == "form_language")
    v("kwargs", c.form_language);
  else if (c.name == "mqar")
    v("kwargs", c.mqar);
  else
    v.fail("name", "unknown dataset '" + c.name + "'; known: form_language, mqar");
}

template <class Visitor>
void visit_fields(Visitor& v, ExperimentConfig& c) {
  v("training", c.training);
  v("model", c.model);
  v("dataset", c.dataset);
}

}  // namespace yaml_detail

XLSTM_YAML_INSTANTIATE(TrainingConfig)
XLSTM_YAML_INSTANTIATE(FormLangDatasetConfig)
XLSTM_YAML_INSTANTIATE(MqarDatasetConfig)
XLSTM_YAML_INSTANTIATE(DatasetConfig)
XLSTM_YAML_INSTANTIATE(ExperimentConfig)

ConfigFileKind detect_config_file_kind(const std::string& path) {
  const auto root = yaml_detail::parse_yaml(yaml_detail::read_text_file(path), path);
  if (root.kind == yaml_detail::Node::Kind::Mapping) {
    if (root.find("model")) return ConfigFileKind::Experiment;
    if (root.find("vocab_size")) return ConfigFileKind::LMModel;
  }
  return ConfigFileKind::BlockStack;
}

}  // namespace xlstm
