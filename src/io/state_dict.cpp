#include "xlstm/io/state_dict.h"

#include "xlstm/io/checkpoint_adapter.h"

#include <sstream>
#include <unordered_map>

namespace xlstm::io {
namespace {

std::string describe(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes() << " " << t.scalar_type();
  return s.str();
}

bool fits(const torch::Tensor& target, const torch::Tensor& source) {
  if (target.sizes() != source.sizes()) return false;
  return target.scalar_type() == source.scalar_type() ||
         (target.is_floating_point() && source.is_floating_point());
}

// Parameters, then buffers, under their dotted names in module order.
std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

// The module's tensors grouped by identity: a tied parameter is one group with several names.
struct Target {
  torch::Tensor tensor;
  std::vector<std::string> names;
};

std::vector<Target> targets_of(const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  std::vector<Target> targets;
  std::unordered_map<const void*, size_t> index_of;
  for (const auto& [name, tensor] : named) {
    const auto [it, inserted] = index_of.emplace(tensor.unsafeGetTensorImpl(), targets.size());
    if (inserted) targets.push_back({tensor, {}});
    targets[it->second].names.push_back(name);
  }
  return targets;
}

}  // namespace

std::string LoadReport::summary() const {
  if (ok()) return "ok";
  std::ostringstream s;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      s << "\n  " << what << " '" << name << "'";
      const auto d = details.find(name);
      if (d != details.end()) s << ": " << d->second;
    }
  };
  s << missing.size() << " missing, " << unexpected.size() << " unexpected, " << mismatched.size()
    << " mismatched:";
  list("missing", missing);
  list("unexpected", unexpected);
  list("mismatched", mismatched);
  return s.str();
}

StateDictError::StateDictError(LoadReport report)
    : std::runtime_error("load_state_dict (strict): " + report.summary()),
      report_(std::move(report)) {}

TensorMap state_dict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& [name, tensor] : named_tensors(module)) out.emplace(name, tensor.detach());
  return out;
}

LoadReport load_state_dict(torch::nn::Module& module, const TensorMap& tensors, bool strict) {
  const auto named = named_tensors(module);
  const TensorMap expected(named.begin(), named.end());
  const TensorMap checkpoint = adapt_checkpoint(module, tensors);

  LoadReport report;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (target, source)
  for (const Target& target : targets_of(named)) {
    std::vector<std::string> given;
    for (const std::string& name : target.names)
      if (checkpoint.count(name)) given.push_back(name);
    if (given.empty()) {
      for (const std::string& name : target.names) {
        report.missing.push_back(name);
        report.details[name] = "expected " + describe(target.tensor);
      }
      continue;
    }
    const torch::Tensor& first = checkpoint.at(given.front());
    bool group_fits = true;
    for (const std::string& name : given) {
      const torch::Tensor& source = checkpoint.at(name);
      if (!fits(target.tensor, source)) {
        report.details[name] =
            "expected " + describe(target.tensor) + ", found " + describe(source);
      } else if (name != given.front() && !torch::equal(source.to(first.options()), first)) {
        // the names of a tied parameter disagree
        report.details[name] = "tied with '" + given.front() + "' but holds different values";
      } else {
        continue;
      }
      report.mismatched.push_back(name);
      group_fits = false;
    }
    if (group_fits) copies.emplace_back(target.tensor, first);
  }
  for (const auto& [name, tensor] : checkpoint) {
    if (expected.count(name)) continue;
    report.unexpected.push_back(name);
    report.details[name] = "found " + describe(tensor);
  }

  if (strict && !report.ok()) throw StateDictError(std::move(report));
  torch::NoGradGuard no_grad;
  for (auto& [target, source] : copies) target.copy_(source);
  return report;
}

}  // namespace xlstm::io
