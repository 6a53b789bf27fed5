// Launch API of the mLSTM step kernels: one recurrent step of the cell (paper eqs. 15-21 with the
// stabiliser m) for a batch of heads, the memory updated in place. Two kernels: the gates and the
// normaliser per head (one block each), then the matrix memory C by column tiles. Raw pointers
// and a stream only (no LibTorch); the bridge is src/ops/mlstm/recurrent_step_cuda.cpp.
#pragma once

#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels::mlstm {

/// One step of B x NH heads, queries and keys of size DHqk, values of size DHv. q, k and v hold
/// each position's heads contiguously ([B, NH, DH] with batch entries `*_batch_stride` elements
/// apart: contiguous tensors, or slices of a projection output); the state is contiguous.
struct StepArgs {
  int batch = 0, heads = 0, qk_head_dim = 0, v_head_dim = 0;
  ElementType element_type = ElementType::kFloat32;  // of q, k, v and h
  const void *q = nullptr, *k = nullptr;             // [B, NH, DHqk]
  const void* v = nullptr;                           // [B, NH, DHv]
  int64_t q_batch_stride = 0, k_batch_stride = 0, v_batch_stride = 0;
  // [B, NH] pre-activations, head h of entry b at b * gate_batch_stride + h * gate_head_stride.
  ElementType gate_element_type = ElementType::kFloat32;
  const void *igate = nullptr, *fgate = nullptr;
  int64_t igate_batch_stride = 0, igate_head_stride = 1, fgate_batch_stride = 0,
          fgate_head_stride = 1;
  // > 0: the pre-activations are soft-capped first, cap * tanh(x / cap), each step rounded to the
  // gate element type as ATen rounds it.
  float gate_soft_cap = 0.f;
  // The state before ([B, NH, DHqk, DHv], [B, NH, DHqk], [B, NH]) and after; "after" may be
  // "before".
  const float *C_in = nullptr, *n_in = nullptr, *m_in = nullptr;
  float *C_out = nullptr, *n_out = nullptr, *m_out = nullptr;
  void* h = nullptr;         // [B, NH, DHv] contiguous: C'^T q / (max(|n'^T q|, exp(-m')) + eps)
  float* scratch = nullptr;  // [B * NH * 3]
  float eps = 1e-6f;
};

/// Largest qk_head_dim the kernels take (their shared memory holds 2 * qk_head_dim floats).
constexpr int kMaxStepHeadDim = 4096;

/// Queues the step on `stream`.
cudaError_t step(const StepArgs& args, cudaStream_t stream);

/// Queues the memory kernel alone: C' and h from scratch[3 s + 0, 1, 2] = (f, i / sqrt(DHqk),
/// normaliser) of each head s, written by a gate stage of the caller's (the layer step kernels');
/// n and m are left as they are, the gate pre-activations unread.
cudaError_t step_memory(const StepArgs& args, cudaStream_t stream);

}  // namespace xlstm::kernels::mlstm
