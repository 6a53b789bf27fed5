// Finite-difference gradient checks for tests (float64).
#pragma once

#include <functional>
#include <vector>

#include <torch/torch.h>

namespace xlstm::test {

/// Central-difference gradient of the scalar `loss(inputs)` with respect to inputs[k], element by
/// element (inputs are float64; keep them small).
inline torch::Tensor numerical_gradient(
    const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& loss,
    const std::vector<torch::Tensor>& inputs, size_t k, double eps = 1e-6) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> shifted;
  for (const auto& t : inputs) shifted.push_back(t.detach().clone());
  torch::Tensor flat = shifted[k].view(-1);
  torch::Tensor grad = torch::zeros_like(flat);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double original = flat[i].item<double>();
    flat[i] = original + eps;
    const double plus = loss(shifted).item<double>();
    flat[i] = original - eps;
    const double minus = loss(shifted).item<double>();
    flat[i] = original;
    grad[i] = (plus - minus) / (2 * eps);
  }
  return grad.view_as(inputs[k]);
}

/// Autograd gradients of `loss(inputs)` for every input (inputs get requires_grad).
inline std::vector<torch::Tensor> analytic_gradients(
    const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& loss,
    const std::vector<torch::Tensor>& inputs) {
  std::vector<torch::Tensor> leaves;
  for (const auto& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
  loss(leaves).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& t : leaves)
    grads.push_back(t.grad().defined() ? t.grad() : torch::zeros_like(t));
  return grads;
}

}  // namespace xlstm::test
