// Launch API of the norm kernels: the normalisations of xLSTM-Large (RMSNorm, the per-head layer
// norm with its sigmoid output gate) and the pointwise ops around them (the gated SiLU of the
// feedforward, soft-capping), each one kernel instead of several ATen ops. Statistics are
// computed in float32; every other step is rounded to the element type where ATen rounds it, so
// the results are the ATen ones up to the reductions' summation order. Raw pointers and a stream
// only (no LibTorch); the bridge is src/ops/norms_cuda.cpp.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels::norms {

enum class NormKind {
  kRms,    // x * rsqrt(mean(x^2) + eps)
  kLayer,  // (x - mean(x)) * rsqrt(var(x) + eps), the biased variance
};

/// Normalises each of `rows` contiguous rows of `row_size` elements (statistics in float32), rounds
/// to the element type, then y = ((n * weight) + bias) * sigmoid(gate), each product and sum
/// rounded to the element type as ATen rounds it. Row r takes weight / bias row r % weight_rows
/// (weight and bias [weight_rows, row_size]: 1 for RMSNorm, the heads for the multi-head norm).
/// The gate holds the rows in groups of weight_rows contiguous ones (a position: [NH, DH]), the
/// groups gate_position_stride elements apart (a slice of a wider projection output).
struct RowNormArgs {
  NormKind kind = NormKind::kRms;
  int rows = 0, row_size = 0, weight_rows = 1;
  ElementType element_type = ElementType::kFloat32;  // of every tensor
  const void* x = nullptr;                           // [rows, row_size]
  const void* weight = nullptr;                      // null: no weight
  const void* bias = nullptr;                        // null: no bias
  const void* gate = nullptr;                        // pre-activations; null: none
  int64_t gate_position_stride = 0;                  // >= weight_rows * row_size
  void* y = nullptr;                                 // [rows, row_size]
  float eps = 1e-6f;
};

/// Queues the row norm on `stream` (one block per row).
cudaError_t row_norm(const RowNormArgs& args, cudaStream_t stream);

/// y [rows, features] = silu(gate) * z, silu(gate) rounded to the element type before the product.
/// gate and z are rows of `features` contiguous elements, `*_row_stride` elements apart (the fused
/// layout [rows, 2 * features]: z = gate + features, both strides 2 * features).
struct GatedSiluArgs {
  int rows = 0, features = 0;
  int64_t gate_row_stride = 0, z_row_stride = 0;
  ElementType element_type = ElementType::kFloat32;
  const void *gate = nullptr, *z = nullptr;
  void* y = nullptr;  // [rows, features], contiguous
};

/// Queues the gated SiLU on `stream`.
cudaError_t gated_silu(const GatedSiluArgs& args, cudaStream_t stream);

/// y = cap * tanh(x * (1 / cap)) over `count` contiguous elements, each of the three steps rounded
/// to the element type (ATen's `cap * tanh(x / cap)` on CUDA, which divides by a scalar as a
/// product with its float32 reciprocal).
struct SoftCapArgs {
  int64_t count = 0;
  ElementType element_type = ElementType::kFloat32;
  const void* x = nullptr;
  void* y = nullptr;  // may be x
  float cap = 1.f;
};

/// Queues the soft-cap on `stream`.
cudaError_t soft_cap(const SoftCapArgs& args, cudaStream_t stream);

}  // namespace xlstm::kernels::norms
