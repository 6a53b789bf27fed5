// Gradient check by central finite differences, for float64 functions of a few small tensors.
#pragma once

#include <functional>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace xlstm::test {

using TensorFn = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;

/// Compares torch::autograd::grad of L = sum(fn(inputs) * probe) (probe: fixed random weights)
/// with (L(x + h) - L(x - h)) / 2h for every element of every input. Inputs must be float64.
inline ::testing::AssertionResult gradcheck(const TensorFn& fn,
                                            const std::vector<torch::Tensor>& inputs,
                                            double step = 1e-6, double atol = 1e-6,
                                            double rtol = 1e-5) {
  std::vector<torch::Tensor> leaves;
  for (const auto& input : inputs) {
    if (input.scalar_type() != torch::kFloat64) {
      return ::testing::AssertionFailure() << "gradcheck needs float64 inputs";
    }
    leaves.push_back(input.detach().clone().requires_grad_(true));
  }
  const torch::Tensor output = fn(leaves);
  const torch::Tensor probe =
      torch::randn(output.sizes(), torch::TensorOptions().dtype(torch::kFloat64));
  const auto analytic = torch::autograd::grad({(output * probe).sum()}, leaves, {},
                                              /*retain_graph=*/false, /*create_graph=*/false,
                                              /*allow_unused=*/true);
  torch::NoGradGuard no_grad;
  const auto loss = [&] { return (fn(leaves) * probe).sum().item<double>(); };
  for (size_t i = 0; i < leaves.size(); ++i) {
    const torch::Tensor flat = leaves[i].view({-1});
    const torch::Tensor grad =
        analytic[i].defined() ? analytic[i].reshape({-1}) : torch::zeros_like(flat);
    for (int64_t e = 0; e < flat.numel(); ++e) {
      const double original = flat[e].item<double>();
      flat[e] = original + step;
      const double plus = loss();
      flat[e] = original - step;
      const double minus = loss();
      flat[e] = original;
      const double numeric = (plus - minus) / (2 * step);
      const double exact = grad[e].item<double>();
      if (std::abs(numeric - exact) > atol + rtol * std::abs(numeric)) {
        return ::testing::AssertionFailure() << "input " << i << " element " << e << ": analytic "
                                             << exact << " vs numeric " << numeric;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

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
