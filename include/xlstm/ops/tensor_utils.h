// Small helpers on tensors that may be undefined (the "none" of optional states and biases), shared
// by the ops, components and blocks.
#pragma once

#include <cstddef>
#include <vector>

#include <torch/torch.h>

namespace xlstm::ops {

/// `t` moved to `device` (and cast to `dtype` when given); undefined stays undefined.
inline torch::Tensor to_if_defined(const torch::Tensor& t, torch::Device device,
                                   c10::optional<torch::ScalarType> dtype = {}) {
  if (!t.defined()) return t;
  return t.to(device, dtype.value_or(t.scalar_type()));
}

/// `t` cut from the autograd graph; undefined stays undefined.
inline torch::Tensor detach_if_defined(const torch::Tensor& t) {
  return t.defined() ? t.detach() : t;
}

/// `t` contiguous; undefined stays undefined.
inline torch::Tensor contiguous_if_defined(const torch::Tensor& t) {
  return t.defined() ? t.contiguous() : t;
}

/// The data of `t` (contiguous, of type T), or null when `t` is undefined.
template <typename T>
const T* data_or_null(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

/// Whether autograd will record a call on `tensors`: grad mode is on and a defined one requires
/// grad.
inline bool needs_grad(c10::ArrayRef<torch::Tensor> tensors) {
  if (!torch::GradMode::is_enabled()) return false;
  for (const torch::Tensor& t : tensors) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

/// The precondition of the raw-pointer CPU loops: every defined tensor is a CPU tensor of `dtype`
/// and none needs a gradient.
inline bool cpu_loop_ready(c10::ArrayRef<torch::Tensor> tensors, torch::ScalarType dtype) {
  for (const torch::Tensor& t : tensors) {
    if (t.defined() && (!t.device().is_cpu() || t.scalar_type() != dtype)) return false;
  }
  return !needs_grad(tensors);
}

/// Throws, naming `where`, unless every tensor a step writes its next state to is defined,
/// contiguous, of `dtype` and of its shape in `shapes` (same order).
inline void check_step_out(const char* where, const std::vector<torch::Tensor>& tensors,
                           const std::vector<std::vector<int64_t>>& shapes,
                           torch::ScalarType dtype) {
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const torch::Tensor& t = tensors[i];
    TORCH_CHECK(t.defined() && t.is_contiguous() && t.scalar_type() == dtype &&
                    t.sizes() == c10::IntArrayRef(shapes[i]),
                where, ": state tensor ", i, " to update must be a contiguous ", dtype, " tensor ",
                c10::IntArrayRef(shapes[i]), ", got ", t.defined() ? t.sizes() : c10::IntArrayRef(),
                t.defined() ? "" : " (undefined)");
  }
}

}  // namespace xlstm::ops
