// Launch API of the decode matrix-vector kernels: y = x W^T for a few rows of x (the batch of one
// decode step), W the rows of up to kMaxParts weight matrices read as one (the q | k | v | o | i |
// f projections of an mLSTM layer), with what follows the product in the same kernel: a bias, the
// residual sum, soft-capping, or the gated SiLU of the feedforward (gate row j and up row F + j by
// the same warp). Products accumulate in float32; the result and every later step are rounded to
// the element type where the ATen ops round them, so the results are the ATen ones up to the
// summation order. Raw pointers and a stream only (no LibTorch); the bridge is
// src/ops/decode_cuda.cpp.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels::gemv {

/// Most rows of x one call takes.
constexpr int kMaxInputRows = 16;
/// Most weight matrices one call reads as one.
constexpr int kMaxParts = 6;

/// One weight matrix: `rows` contiguous rows of the input size, its bias [rows] or null.
struct WeightPart {
  const void* weight = nullptr;
  const void* bias = nullptr;
  int rows = 0;
};

enum class Epilogue {
  kNone,       // y = x W^T + b
  kResidual,   // y = residual + (x W^T + b), the product rounded first
  kSoftCap,    // y = cap * tanh((x W^T + b) / cap), each step rounded
  kGatedSilu,  // y[:, j] = silu(u[:, j]) * u[:, F + j] for u = x W^T + b of 2F rows, y [M, F]
};

struct GemvArgs {
  int input_rows = 0;                                // M, 1..kMaxInputRows
  int input_size = 0;                                // K
  ElementType element_type = ElementType::kFloat32;  // of every tensor
  const void* x = nullptr;                           // [M, K], rows x_row_stride elements apart
  int64_t x_row_stride = 0;
  WeightPart parts[kMaxParts];  // the rows of W in order
  int part_count = 0;
  Epilogue epilogue = Epilogue::kNone;
  const void* residual = nullptr;  // [M, outputs], rows residual_row_stride apart (kResidual)
  int64_t residual_row_stride = 0;
  float cap = 1.f;    // kSoftCap
  void* y = nullptr;  // [M, outputs] contiguous; outputs = rows of W (half of them: kGatedSilu)
};

/// Queues y = epilogue(x W^T + b) on `stream`: 16-byte weight loads into tensor-core products for
/// bfloat16 and float16 (input size a multiple of 8, 16-byte aligned rows), one warp per output
/// with float32 FMAs otherwise.
cudaError_t gemv(const GemvArgs& args, cudaStream_t stream);

}  // namespace xlstm::kernels::gemv
