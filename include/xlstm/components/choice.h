// Config names to enums: a config keeps the Python string (its YAML / Python name); a module turns
// it into an enum once, at construction, instead of comparing strings on every call.
#pragma once

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

namespace xlstm {

template <class Enum>
using Choices = std::initializer_list<std::pair<const char*, Enum>>;

/// The value of `choices` named `name`; throws std::invalid_argument naming `key`, the name and
/// the choices.
template <class Enum>
Enum choose(const std::string& key, const std::string& name, Choices<Enum> choices) {
  std::string names;
  for (const auto& [choice_name, value] : choices) {
    if (name == choice_name) return value;
    names += (names.empty() ? "" : ", ") + std::string(choice_name);
  }
  throw std::invalid_argument(key + ": unknown name \"" + name + "\" (choices: " + names + ")");
}

}  // namespace xlstm
