// The dataset table (src/training/dataset_table.h): the datasets an experiment file can name, with
// the YAML field lists of their kwargs structs. To add a dataset: its kwargs struct (with
// finalize()) and its data factory beside its generator, its field list and its row here.
#include "../training/dataset_table.h"
#include "xlstm/experiments/formal_language.h"
#include "xlstm/experiments/mqar.h"

namespace xlstm {
namespace yaml_detail {

template <class Visitor>
void visit_fields(Visitor& v, experiments::SplitCounts& c) {
  v("train", c.train);
  v("validation", c.validation);
  v("test", c.test);
}

template <class Visitor>
void visit_fields(Visitor& v, experiments::SequenceLengthOverride& c) {
  v("min_sequence_length", c.min_sequence_length);
  v("max_sequence_length", c.max_sequence_length);
}

template <class Visitor>
void visit_fields(Visitor& v, experiments::FormalLanguageConfig& c) {
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
XLSTM_YAML_CONFIG(experiments::FormalLanguageConfig)

template <class Visitor>
void visit_fields(Visitor& v, experiments::MqarSplitConfig& c) {
  v("input_seq_len", c.input_seq_len);
  v("num_kv_pairs", c.num_kv_pairs);
}

template <class Visitor>
void visit_fields(Visitor& v, experiments::MqarCounts& c) {
  v("train", c.train);
  v("validation", c.validation);
}

void read_value(const Node& node, std::vector<experiments::MqarSplitConfig>& value,
                const Place& place) {
  if (node.kind != Node::Kind::Sequence)
    throw place.error(node, "expected a list of splits, got " + describe(node));
  value.assign(node.items.size(), {});
  for (size_t i = 0; i < node.items.size(); ++i)
    read_value(node.items[i], value[i],
               Place{place.source, place.path + "[" + std::to_string(i) + "]"});
}

void write_value(Emitter& out, std::vector<experiments::MqarSplitConfig>& value) {
  out << YAML::BeginSeq;
  for (auto& split : value) {
    out << YAML::Flow;
    write_value(out, split);
  }
  out << YAML::EndSeq;
}

template <class Visitor>
void visit_fields(Visitor& v, experiments::MqarConfig& c) {
  v("vocab_size", c.vocab_size);
  v("input_seq_len", c.input_seq_len);
  v("num_kv_pairs", c.num_kv_pairs);
  v("power_a", c.power_a);
  v("random_non_queries", c.random_non_queries);
  v("seed", c.seed);
  v("count", c.count);
  v("validation", c.validation);
}
XLSTM_YAML_CONFIG(experiments::MqarConfig)

}  // namespace yaml_detail

const std::vector<DatasetKind>& dataset_table() {
  static const std::vector<DatasetKind> table = {
      dataset_kind("form_language", experiments::formal_language_data),
      dataset_kind("mqar", experiments::mqar_data),
  };
  return table;
}

}  // namespace xlstm
