// Launch API of the persistent sLSTM recurrence kernels (forward and backward over a whole sequence
// in one launch each). Raw device pointers, sizes and a stream: nothing here knows LibTorch or
// configs.
//
// Shapes (row-major, all contiguous; H = num_heads * head_dim):
//   wx, dwx     [S, B, 4, H]  gate pre-activations from the input projections (gates i, f, z, o)
//   r_forward   [NH, DH(unit), 4, DH(in)] float32: R[h, g*DH + unit, in] regrouped by unit
//   r_backward  [NH, DH(in), 4*DH]         float32: R transposed per head
//   bias        [4, H] float32
//   states      [4, B, H] float32 (y, c, n, m)
//   y           [S, B, H] in the element type of wx
//   saved_states [S+1, 4, B, H], saved_gates [S, 4, B, H] float32 (training only; slot 0 of
//                saved_states must hold the initial state; gates are stored as i, f~, tanh z, o)
//   dg          [S, B, 4, H] float32: gradient of the gate pre-activations (float32 kernels)
//   dwx         [S, B, 4, H] and dg_heads [NH, S*B, 4*DH] in the element type: the same gradient
//               (tensor-core kernel), the second head-major (a plain GEMM operand for dR)
#pragma once

#include <cstddef>
#include <string>

#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels::slstm {

struct Sizes {
  int steps = 0;
  int batch = 0;
  int num_heads = 0;
  int head_dim = 0;
};

struct ForwardArgs {
  Sizes sizes;
  ElementType element_type = ElementType::kFloat32;
  const void* wx = nullptr;
  const float* r_forward = nullptr;
  const float* bias = nullptr;
  const float* state0 = nullptr;
  // Device int: non-zero when the initial normaliser n is all zero (then m_0 = i~, as in the
  // paper's first step); read on the device, so the host need not synchronise.
  const int* start_from_zero = nullptr;
  void* y = nullptr;
  float* final_state = nullptr;
  float* saved_states = nullptr;  // null for inference
  float* saved_gates = nullptr;   // null for inference
  float forward_clipval = 0.f;    // > 0: clip y_t to [-v, v]
  // sm_90: exchange through thread-block clusters where they fit (measured slower than the global
  // exchange on an H100 at the benchmark shape, hence off by default; see docs/slstm_cuda.md)
  bool use_cluster = false;
  // sm_90, inference (no saved states), tensor cores: the tensor-core kernel exchanges y_t through
  // a thread-block cluster per group where a plan fits (batch tiles of up to 8 rows; at batch 1 and
  // head_dim 192 about 1.3x faster than the global exchange on an H200, docs/slstm_cuda.md).
  bool cluster_for_inference = false;
  // bf16 / fp16: the recurrent product on the tensor cores (R and y_{t-1} rounded to the input
  // dtype, float32 accumulation) where the plan allows; false: float32 FMA throughout.
  bool use_tensor_cores = false;
};

struct BackwardArgs {
  Sizes sizes;
  ElementType element_type = ElementType::kFloat32;  // of dy
  const float* r_backward = nullptr;
  const float* saved_states = nullptr;
  const float* saved_gates = nullptr;
  const void* dy = nullptr;             // [S, B, H] gradient of y (element_type)
  const float* dfinal_state = nullptr;  // [4, B, H] gradient of the final state
  float* dg = nullptr;                  // [S, B, 4, H] out (float32 kernels)
  void* dwx = nullptr;                  // [S, B, 4, H] out (tensor-core kernel)
  void* dg_heads = nullptr;             // [NH, S*B, 4*DH] out (tensor-core kernel)
  float* dstate0 = nullptr;             // [4, B, H] out (m slot zero: m is a stabiliser)
  bool gradient_recurrent_cut = false;
  float gradient_recurrent_clipval = 0.f;  // > 0: clip the gradient through R y_{t-1} (t >= 1)
  bool use_cluster = false;
  // bf16 / fp16: R^T dg on the tensor cores (R and dg rounded to the dy dtype, float32
  // accumulation) where head_dim <= 512; false: float32 FMA throughout.
  bool use_tensor_cores = false;
};

/// Empty when these sizes can run on the current device, else why not (head_dim must be a multiple
/// of 4 and the per-block tiles must fit in shared memory with all blocks of a head co-resident).
std::string check_supported(const Sizes& sizes);

/// Whether backward() runs the tensor-core kernel for these arguments (then it writes dwx and
/// dg_heads, else dg).
bool backward_uses_tensor_cores(const BackwardArgs& args);

/// Bytes of device scratch that forward / backward need (barrier counters and, for inference, a
/// ring buffer for y); pass at least that many (256-byte aligned) as `workspace`.
std::size_t forward_workspace_bytes(const Sizes& sizes);
std::size_t backward_workspace_bytes(const Sizes& sizes);

cudaError_t forward(const ForwardArgs& args, void* workspace, cudaStream_t stream);
cudaError_t backward(const BackwardArgs& args, void* workspace, cudaStream_t stream);

}  // namespace xlstm::kernels::slstm
