// The normalisations of xLSTM-Large and the pointwise ops around them, as functions of tensors:
// RMSNorm, the per-head layer norm (alone and with the mLSTM layer's sigmoid output gate), the
// gated SiLU of the feedforward and soft-capping. On CUDA tensors that need no gradient each is
// one kernel (kernels/norms; XLSTM_NORM_KERNELS=0 switches them off), otherwise a few ATen ops; the
// two give the same numbers up to the reductions' summation order (docs/xlstm_large.md, "Speed").
//
// Precision (the Python modules' order): with `force_float32` the statistics are computed in
// float32 whatever the input dtype (a float64 input too), else in the input dtype; the normalised
// values are cast to the input dtype before the weight and bias, and every later product and sum
// is rounded to the input dtype. An undefined weight or bias is absent.
#pragma once

#include <torch/torch.h>

namespace xlstm::ops {

/// x [..., D] -> x * rsqrt(mean(x^2) + eps) over the last dimension, * weight [D] (+ bias [D]).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias, double eps, bool force_float32);

/// Layer norm of each head: h [B, S, NH, DH] -> (h - mean) * rsqrt(var + eps) over DH (the biased
/// variance) -> [B, S, NH * DH], * weight [NH * DH] (+ bias [NH * DH]).
torch::Tensor multihead_norm(const torch::Tensor& h, const torch::Tensor& weight,
                             const torch::Tensor& bias, double eps, bool force_float32);

/// The mLSTM layer's output before out_proj: sigmoid(o) * multihead_norm(h, ...), o [B, S, NH *
/// DH].
torch::Tensor multihead_norm_gate(const torch::Tensor& h, const torch::Tensor& o,
                                  const torch::Tensor& weight, const torch::Tensor& bias,
                                  double eps, bool force_float32);

/// silu(gate) * z (gate and z of one shape).
torch::Tensor gated_silu(const torch::Tensor& gate, const torch::Tensor& z);

/// The same on the fused layout gate_z [..., 2F] (gate the first F, z the last F) -> [..., F].
torch::Tensor gated_silu(const torch::Tensor& gate_z);

/// cap * tanh(x / cap) (Gemma 2's soft-capping), cap > 0.
torch::Tensor soft_cap(const torch::Tensor& x, double cap);

}  // namespace xlstm::ops
