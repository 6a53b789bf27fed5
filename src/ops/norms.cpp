#include "xlstm/ops/norms.h"

#include "norms_cuda.h"

namespace xlstm::ops {
namespace {

using namespace detail;

/// The tensor the statistics are computed on (Python _rms_normalize / _layer_normalize).
torch::Tensor reduction_input(const torch::Tensor& x, bool force_float32) {
  return force_float32 ? x.to(torch::kFloat32) : x;
}

torch::Tensor scaled_shifted(torch::Tensor x, const torch::Tensor& weight,
                             const torch::Tensor& bias) {
  if (weight.defined()) x = x * weight;
  if (bias.defined()) x = x + bias;
  return x;
}

/// Throws, naming `where`, unless weight and bias are undefined or [features].
void check_affine(const char* where, const torch::Tensor& weight, const torch::Tensor& bias,
                  int64_t features) {
  for (const torch::Tensor* t : {&weight, &bias})
    TORCH_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == features), where, ": ",
                t == &weight ? "weight" : "bias", " must be [", features, "], got ", t->sizes());
}

/// Whether the kernels compute this norm: they reduce in float32, which is what `force_float32`
/// asks for and what a float32 input does anyway.
bool norm_kernel_takes(bool force_float32, c10::ArrayRef<torch::Tensor> tensors) {
#ifdef XLSTM_WITH_CUDA
  return (force_float32 || tensors[0].scalar_type() == torch::kFloat32) &&
         norm_kernels_apply(tensors);
#else
  return false;
#endif
}

void check_heads(const char* where, const torch::Tensor& h) {
  TORCH_CHECK(h.dim() == 4, where, ": expected h [B, S, NH, DH], got ", h.sizes());
}

}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias, double eps, bool force_float32) {
  TORCH_CHECK(x.dim() >= 1, "rms_norm: expected x [..., D], got a scalar");
  check_affine("rms_norm", weight, bias, x.size(-1));
  if (norm_kernel_takes(force_float32, {x, weight, bias}))
    return rms_norm_cuda(x, weight, bias, eps);
  const torch::Tensor r = reduction_input(x, force_float32);
  const torch::Tensor normed = r * torch::rsqrt(r.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return scaled_shifted(normed.to(x.scalar_type()), weight, bias);
}

torch::Tensor multihead_norm(const torch::Tensor& h, const torch::Tensor& weight,
                             const torch::Tensor& bias, double eps, bool force_float32) {
  check_heads("multihead_norm", h);
  const int64_t features = h.size(2) * h.size(3);
  check_affine("multihead_norm", weight, bias, features);
  if (norm_kernel_takes(force_float32, {h, weight, bias}))
    return multihead_norm_cuda(h, {}, weight, bias, eps);
  const torch::Tensor r = reduction_input(h, force_float32);
  const torch::Tensor centred = r - r.mean(-1, /*keepdim=*/true);
  const torch::Tensor var = r.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  const torch::Tensor normed = (centred * torch::rsqrt(var + eps)).to(h.scalar_type());
  return scaled_shifted(normed.reshape({h.size(0), h.size(1), features}), weight, bias);
}

torch::Tensor multihead_norm_gate(const torch::Tensor& h, const torch::Tensor& o,
                                  const torch::Tensor& weight, const torch::Tensor& bias,
                                  double eps, bool force_float32) {
  check_heads("multihead_norm_gate", h);
  const int64_t features = h.size(2) * h.size(3);
  TORCH_CHECK(
      o.dim() == 3 && o.size(0) == h.size(0) && o.size(1) == h.size(1) && o.size(2) == features,
      "multihead_norm_gate: expected o [", h.size(0), ", ", h.size(1), ", ", features, "] for h ",
      h.sizes(), ", got ", o.sizes());
  check_affine("multihead_norm_gate", weight, bias, features);
  if (norm_kernel_takes(force_float32, {h, o, weight, bias}))
    return multihead_norm_cuda(h, o, weight, bias, eps);
  return torch::sigmoid(o) * multihead_norm(h, weight, bias, eps, force_float32);
}

torch::Tensor gated_silu(const torch::Tensor& gate, const torch::Tensor& z) {
  TORCH_CHECK(gate.dim() >= 1 && gate.sizes() == z.sizes(),
              "gated_silu: expected gate and z of one shape, got ", gate.sizes(), " and ",
              z.sizes());
#ifdef XLSTM_WITH_CUDA
  if (norm_kernels_apply({gate, z})) return gated_silu_cuda(gate, z);
#endif
  return torch::silu(gate) * z;
}

torch::Tensor gated_silu(const torch::Tensor& gate_z) {
  TORCH_CHECK(gate_z.dim() >= 1 && gate_z.size(-1) % 2 == 0,
              "gated_silu: expected gate_z [..., 2F], got ", gate_z.sizes());
#ifdef XLSTM_WITH_CUDA
  if (norm_kernels_apply({gate_z})) return gated_silu_fused_cuda(gate_z);
#endif
  const auto parts = gate_z.split(gate_z.size(-1) / 2, -1);
  return torch::silu(parts[0]) * parts[1];
}

torch::Tensor soft_cap(const torch::Tensor& x, double cap) {
  TORCH_CHECK(cap > 0, "soft_cap: the cap must be positive, got ", cap);
#ifdef XLSTM_WITH_CUDA
  if (norm_kernels_apply({x})) return soft_cap_cuda(x, cap);
#endif
  return cap * torch::tanh(x / cap);
}

}  // namespace xlstm::ops
