// The dataset table: every dataset an experiment file can name, as {name, kwargs struct, data
// factory}. DatasetConfig reads, writes and checks `kwargs` through it and make_experiment_data
// builds the data with it. The rows are listed once, in src/experiments/datasets.cpp.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <string>
#include <typeinfo>
#include <vector>

#include "../config/yaml_fields.h"
#include "xlstm/training/experiment_data.h"

namespace xlstm {

struct DatasetKind {
  std::string name;
  const std::type_info* kwargs_type;
  std::function<std::any()> default_kwargs;
  std::function<void(const yaml_detail::Node&, std::any&, const yaml_detail::Place&)> read_kwargs;
  std::function<void(yaml_detail::Emitter&, std::any&)> write_kwargs;
  std::function<void(std::any&)> finalize_kwargs;
  std::function<ExperimentData(const std::any&, int64_t batch_size)> make_data;
};

/// Every dataset; the first is DatasetConfig's default.
const std::vector<DatasetKind>& dataset_table();

/// The row named `name`, or nullptr.
const DatasetKind* find_dataset(const std::string& name);

/// The row of a kwargs struct (with a field list visible here and a finalize()) and its factory.
template <class Kwargs>
DatasetKind dataset_kind(std::string name,
                         ExperimentData (*make_data)(const Kwargs& kwargs, int64_t batch_size)) {
  return {std::move(name),
          &typeid(Kwargs),
          [] { return std::any(Kwargs{}); },
          [](const yaml_detail::Node& node, std::any& kwargs, const yaml_detail::Place& place) {
            yaml_detail::read_value(node, std::any_cast<Kwargs&>(kwargs), place);
          },
          [](yaml_detail::Emitter& out, std::any& kwargs) {
            yaml_detail::write_value(out, std::any_cast<Kwargs&>(kwargs));
          },
          [](std::any& kwargs) { std::any_cast<Kwargs&>(kwargs).finalize(); },
          [make_data](const std::any& kwargs, int64_t batch_size) {
            return make_data(std::any_cast<const Kwargs&>(kwargs), batch_size);
          }};
}

}  // namespace xlstm
