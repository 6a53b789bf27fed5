// Launch API of the mLSTM step kernels: one recurrent step of the cell (paper eqs. 15-21 with the
// stabiliser m) for a batch of heads, the memory updated in place. Two kernels: the gates and the
// normaliser per head (one block each), then the matrix memory C by column tiles. Raw pointers
// and a stream only (no LibTorch); the bridge is src/ops/mlstm/recurrent_step_cuda.cpp.
#pragma once

#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels::mlstm {

/// One step of B x NH heads, queries and keys of size DHqk, values of size DHv; every pointer to
/// contiguous device memory.
struct StepArgs {
  int batch = 0, heads = 0, qk_head_dim = 0, v_head_dim = 0;
  ElementType element_type = ElementType::kFloat32;  // of q, k, v and h
  const void *q = nullptr, *k = nullptr;             // [B, NH, DHqk]
  const void* v = nullptr;                           // [B, NH, DHv]
  const float *igate = nullptr, *fgate = nullptr;    // [B, NH] pre-activations
  // The state before ([B, NH, DHqk, DHv], [B, NH, DHqk], [B, NH]) and after; "after" may be
  // "before".
  const float *C_in = nullptr, *n_in = nullptr, *m_in = nullptr;
  float *C_out = nullptr, *n_out = nullptr, *m_out = nullptr;
  void* h = nullptr;         // [B, NH, DHv]: C'^T q / (max(|n'^T q|, exp(-m')) + eps)
  float* scratch = nullptr;  // [B * NH * 3]
  float eps = 1e-6f;
};

/// Largest qk_head_dim the kernels take (their shared memory holds 2 * qk_head_dim floats).
constexpr int kMaxStepHeadDim = 4096;

/// Queues the step on `stream`.
cudaError_t step(const StepArgs& args, cudaStream_t stream);

}  // namespace xlstm::kernels::mlstm
