// How close a result computed in a reduced precision must be to its higher-precision reference.
//
// The tolerance is set from the dtype's machine epsilon and the value scale:
//   |actual - reference| <= roundings * epsilon(dtype) * max |reference|
// epsilon is the spacing of the dtype's numbers at 1 (float16 2^-10, bfloat16 2^-7, float32 2^-23,
// float64 2^-52): a value of size s carries an error up to s * epsilon / 2 from one rounding.
// `roundings` counts the roundings whose errors can add up in the result (the input, the weights,
// each stored intermediate; a reduction of K terms kept in the dtype adds about sqrt(K)); every
// test passes the count for its computation, small single digits for one layer, more for a whole
// model. A float64 reference of a float32 result is compared with dtype float32.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace xlstm::test {

/// The machine epsilon of a floating-point dtype (the distance from 1 to the next number).
inline double epsilon(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kHalf:
      return std::ldexp(1.0, -10);
    case torch::kBFloat16:
      return std::ldexp(1.0, -7);
    case torch::kFloat:
      return std::ldexp(1.0, -23);
    case torch::kDouble:
      return std::ldexp(1.0, -52);
    default:
      throw std::invalid_argument(std::string("epsilon: ") + c10::toString(dtype) +
                                  " is not a floating-point dtype");
  }
}

/// roundings * epsilon(dtype) * max |reference| (the scale is 1 for an all-zero reference).
inline double tolerance(torch::ScalarType dtype, const torch::Tensor& reference, double roundings) {
  const double scale = reference.detach().to(torch::kDouble).abs().max().item<double>();
  return roundings * epsilon(dtype) * (scale > 0 ? scale : 1.0);
}

/// Passes when max |actual - reference| is within tolerance(dtype, reference, roundings); the
/// message gives the difference, the tolerance and how it was set.
inline ::testing::AssertionResult close_at_precision(const torch::Tensor& actual,
                                                     const torch::Tensor& reference,
                                                     torch::ScalarType dtype, double roundings) {
  const auto a = actual.detach().to(torch::kCPU).to(torch::kDouble);
  const auto r = reference.detach().to(torch::kCPU).to(torch::kDouble);
  if (a.sizes() != r.sizes()) {
    return ::testing::AssertionFailure() << "shape " << a.sizes() << " vs " << r.sizes();
  }
  const double diff = a.numel() == 0 ? 0.0 : (a - r).abs().max().item<double>();
  const double allowed = tolerance(dtype, r, roundings);
  if (diff <= allowed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << dtype << ": max |diff| " << diff << " > " << allowed << " = " << roundings
         << " roundings x epsilon " << epsilon(dtype) << " x scale " << r.abs().max().item<double>()
         << " (" << diff / allowed * roundings << " roundings would pass)";
}

/// Runs `fn()` with `module` cast to `dtype`, then gives the module back its original parameters
/// exactly (a cast to a reduced precision and back would have rounded them).
template <class Fn>
void in_precision(torch::nn::Module& module, torch::ScalarType dtype, Fn fn) {
  std::vector<torch::Tensor> originals;
  for (const auto& p : module.parameters()) originals.push_back(p.detach().clone());
  const auto original_dtype = originals.empty() ? torch::kFloat : originals[0].scalar_type();
  module.to(dtype);
  fn();
  module.to(original_dtype);
  torch::NoGradGuard no_grad;
  auto parameters = module.parameters();
  for (size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(originals[i]);
}

}  // namespace xlstm::test
