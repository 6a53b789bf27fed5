#include "xlstm/training/experiment_config.h"

#include "../config/check.h"
#include "dataset_table.h"
#include "xlstm/config/dtype_names.h"

namespace xlstm {
using namespace config_check;

void TrainingConfig::finalize() {
  positive(batch_size, "batch_size");
  finite_at_least(lr, 0.0, /*strict=*/true, "lr");
  positive(val_every_step, "val_every_step");
  positive(num_steps, "num_steps");
  non_negative(lr_warmup_steps, "lr_warmup_steps");
  if (lr_decay_until_steps < 0) lr_decay_until_steps = num_steps;
  require(lr_decay_until_steps >= lr_warmup_steps, "lr_decay_until_steps",
          "must be >= lr_warmup_steps = " + std::to_string(lr_warmup_steps));
  require(lr_decay_factor > 0.0 && lr_decay_factor <= 1.0, "lr_decay_factor", "must be in (0, 1]");
  finite_at_least(weight_decay, 0.0, /*strict=*/false, "weight_decay");
  one_of(device, {"cpu", "cuda"}, "device");
  one_of(amp_precision, dtype_names(), "amp_precision");
  one_of(weight_precision, dtype_names(), "weight_precision");
  positive(grad_accumulation_steps, "grad_accumulation_steps");
  require(zero_stage == 0 || zero_stage == 1, "zero_stage", "must be 0 or 1");
}

const DatasetKind* find_dataset(const std::string& name) {
  for (const auto& kind : dataset_table())
    if (kind.name == name) return &kind;
  return nullptr;
}

DatasetConfig::DatasetConfig()
    : name(dataset_table().front().name), kwargs(dataset_table().front().default_kwargs()) {}

const std::vector<std::string>& DatasetConfig::dataset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& kind : dataset_table()) list.push_back(kind.name);
    return list;
  }();
  return names;
}

namespace {

/// The row of `config.name`, its kwargs reset to the row's defaults when they are another struct.
const DatasetKind& dataset_kind_of(DatasetConfig& config) {
  const DatasetKind& kind = *find_dataset(config.name);
  if (config.kwargs.type() != *kind.kwargs_type) config.kwargs = kind.default_kwargs();
  return kind;
}

}  // namespace

void DatasetConfig::finalize() {
  one_of(name, dataset_names(), "name");
  const DatasetKind& kind = dataset_kind_of(*this);
  nested("kwargs", [&] { kind.finalize_kwargs(kwargs); });
}

void ExperimentConfig::finalize() {
  nested("training", [&] { training.finalize(); });
  nested("dataset", [&] { dataset.finalize(); });
  nested("model", [&] { model.finalize(); });
}

ExperimentConfig load_experiment_config(const std::string& path,
                                        const std::vector<ConfigOverride>& overrides) {
  return load_config<ExperimentConfig>(path, overrides);
}

ExperimentData make_experiment_data(const DatasetConfig& dataset, int64_t batch_size) {
  if (!find_dataset(dataset.name))
    throw ConfigError("dataset.name", "unknown dataset '" + dataset.name + "'");
  DatasetConfig resolved = dataset;
  return dataset_kind_of(resolved).make_data(resolved.kwargs, batch_size);
}

namespace yaml_detail {

/// DatasetConfig::kwargs as a field of the `dataset` mapping: read and written by its row.
struct DatasetKwargs {
  const DatasetKind& kind;
  std::any& value;
};

void read_value(const Node& node, DatasetKwargs& kwargs, const Place& place) {
  kwargs.kind.read_kwargs(node, kwargs.value, place);
}

void write_value(Emitter& out, DatasetKwargs& kwargs) {
  kwargs.kind.write_kwargs(out, kwargs.value);
}

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
  v("grad_accumulation_steps", c.grad_accumulation_steps);
  v("zero_stage", c.zero_stage);
}
XLSTM_YAML_CONFIG(TrainingConfig)

template <class Visitor>
void visit_fields(Visitor& v, DatasetConfig& c) {
  v("name", c.name);
  // `kwargs` takes the struct of the named dataset.
  if (!find_dataset(c.name)) {
    std::string known;
    for (const auto& name : DatasetConfig::dataset_names())
      known += (known.empty() ? "" : ", ") + name;
    v.fail("name", "unknown dataset '" + c.name + "'; known: " + known);
  }
  DatasetKwargs kwargs{dataset_kind_of(c), c.kwargs};
  v("kwargs", kwargs);
}
XLSTM_YAML_CONFIG(DatasetConfig)

XLSTM_YAML_FIELDS_OF(xLSTMLMModelConfig)

template <class Visitor>
void visit_fields(Visitor& v, ExperimentConfig& c) {
  v("training", c.training);
  v("model", c.model);
  v("dataset", c.dataset);
}
XLSTM_YAML_CONFIG(ExperimentConfig)

}  // namespace yaml_detail
}  // namespace xlstm
