// The gradients the golden fixtures store (tests/data/reference README: `grad.<name>`,
// `input_grad`), computed by one of our models.
#pragma once

#include <map>
#include <string>

#include <torch/torch.h>

#include "model_kinds.h"
#include "xlstm/io/safetensors.h"

namespace xlstm::testing {

/// Gradients of L = sum(model(input) * probe) for every named parameter, plus "input" for a block
/// stack, with the model and the fixture's tensors in `dtype` on `device`.
inline std::map<std::string, torch::Tensor> fixture_gradients(apps::AppModel& model,
                                                              const io::TensorMap& tensors,
                                                              torch::ScalarType dtype,
                                                              torch::Device device = torch::kCPU) {
  model.module().to(device, dtype);
  auto input = tensors.at("input").clone().to(device);
  const bool stack = input.is_floating_point();
  if (stack) input = input.to(dtype).requires_grad_(true);
  (model.forward(input) * tensors.at("probe").to(device, dtype)).sum().backward();
  std::map<std::string, torch::Tensor> grads;
  for (const auto& item : model.module().named_parameters())
    grads[item.key()] = item.value().grad();
  if (stack) grads["input"] = input.grad();
  return grads;
}

}  // namespace xlstm::testing
