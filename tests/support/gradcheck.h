// Gradient check by central finite differences, for float64 functions of a few small tensors.
#pragma once

#include <functional>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
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

using TensorFn = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;

/// Compares the autograd gradient of L = sum(fn(inputs) * probe) (probe: fixed random weights)
/// with numerical_gradient for every element of every input. Inputs must be float64.
inline ::testing::AssertionResult gradcheck(const TensorFn& fn,
                                            const std::vector<torch::Tensor>& inputs,
                                            double step = 1e-6, double atol = 1e-6,
                                            double rtol = 1e-5) {
  for (const auto& input : inputs) {
    if (input.scalar_type() != torch::kFloat64) {
      return ::testing::AssertionFailure() << "gradcheck needs float64 inputs";
    }
  }
  const torch::Tensor probe = [&] {
    torch::NoGradGuard no_grad;
    return torch::randn(fn(inputs).sizes(), torch::TensorOptions().dtype(torch::kFloat64));
  }();
  const TensorFn loss = [&](const std::vector<torch::Tensor>& xs) {
    return (fn(xs) * probe).sum();
  };
  const auto analytic = analytic_gradients(loss, inputs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const torch::Tensor exact = analytic[i].reshape({-1});
    const torch::Tensor numeric = numerical_gradient(loss, inputs, i, step).reshape({-1});
    const torch::Tensor bad = ((numeric - exact).abs() > atol + rtol * numeric.abs()).nonzero();
    if (bad.numel() > 0) {
      const int64_t e = bad[0][0].item<int64_t>();
      return ::testing::AssertionFailure()
             << "input " << i << " element " << e << ": analytic " << exact[e].item<double>()
             << " vs numeric " << numeric[e].item<double>();
    }
  }
  return ::testing::AssertionSuccess();
}

/// For every named parameter of `module` (float64): the autograd gradient of `loss()` against a
/// central difference along one random direction of that parameter, d/dh loss(p + h v) at h = 0
/// = <grad, v>. Cheap (two forwards per parameter) and it checks every element's gradient at once.
inline ::testing::AssertionResult directional_gradcheck(torch::nn::Module& module,
                                                        const std::function<torch::Tensor()>& loss,
                                                        double step = 1e-6, double rtol = 1e-6) {
  module.zero_grad();
  loss().backward();
  for (auto& item : module.named_parameters()) {
    torch::Tensor p = item.value();
    if (p.scalar_type() != torch::kFloat64) {
      return ::testing::AssertionFailure() << item.key() << ": directional_gradcheck needs float64";
    }
    if (!p.grad().defined()) return ::testing::AssertionFailure() << item.key() << ": no gradient";
    const torch::Tensor direction = torch::randn_like(p);
    const double analytic = (p.grad() * direction).sum().item<double>();
    double numeric = 0;
    {
      torch::NoGradGuard no_grad;
      const torch::Tensor original = p.clone();
      p.add_(direction, step);
      const double plus = loss().item<double>();
      p.copy_(original).add_(direction, -step);
      const double minus = loss().item<double>();
      p.copy_(original);
      numeric = (plus - minus) / (2 * step);
    }
    if (std::abs(analytic - numeric) > rtol * std::max(1.0, std::abs(numeric)) || analytic == 0.0) {
      return ::testing::AssertionFailure()
             << item.key() << ": <grad, v> " << analytic << " vs central difference " << numeric;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace xlstm::test
