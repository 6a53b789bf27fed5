// Launch API of the mLSTM layer step kernels: one position of the layer between its up- and its
// down-projection (what ops::mlstm::layer_step_cpu computes on the CPU) in four kernels instead
// of some thirty ATen ones: the inputs of the cell (causal conv window and kernel, SiLU, headwise
// q / k / v), the gate pre-activations from cat(q, k, v) with the stabilised gates and n, then the
// memory C (step_memory of mlstm_kernels.h), then the per-head output norm with the learnable
// skip and the output gate silu(z). Raw pointers and a stream only; the bridge is
// src/ops/mlstm/layer_step_cuda.cpp.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels::mlstm {

/// One step of a batch of B rows, F inner features, NH cell heads of DH = F / NH, QH headwise
/// projection blocks of F / QH, a causal conv of KS taps. Every pointer is contiguous; T is
/// `element_type` (of x_inner, the weights, the conv window and the outputs), the cell state is
/// float32. Biases may be null. "out" state pointers may equal the "in" ones (updated in place).
struct LayerStepArgs {
  int batch = 0, features = 0, heads = 0, qkv_blocks = 0, conv_taps = 0;
  ElementType element_type = ElementType::kFloat32;
  const void* x_inner = nullptr;                            // [B, 2F]: x_mlstm then z
  const void *conv_weight = nullptr, *conv_bias = nullptr;  // [F, KS], [F]
  const void *q_weight = nullptr, *q_bias = nullptr;        // [QH, F/QH, F/QH], [F]; k, v alike
  const void *k_weight = nullptr, *k_bias = nullptr;
  const void *v_weight = nullptr, *v_bias = nullptr;
  const void *igate_weight = nullptr, *igate_bias = nullptr;  // [NH, 3F], [NH]
  const void *fgate_weight = nullptr, *fgate_bias = nullptr;
  const void *norm_weight = nullptr, *norm_bias = nullptr;  // [F]
  const void* learnable_skip = nullptr;                     // [F]
  float norm_eps = 1e-5f, cell_eps = 1e-6f;
  const void* conv_in = nullptr;  // [B, KS, F]: the last KS inputs of the conv
  void* conv_out = nullptr;
  const float *C_in = nullptr, *n_in = nullptr,
              *m_in = nullptr;  // [B, NH, DH, DH], [B, NH, DH], [B, NH]
  float *C_out = nullptr, *n_out = nullptr, *m_out = nullptr;
  void* h = nullptr;  // [B, F]: (outnorm(h~) + learnable_skip * silu(conv)) * silu(z)
  // Workspace of layer_step_workspace_bytes: q, k, v, silu(conv) and h~ in T, the gates in float.
  void* workspace = nullptr;
};

/// Bytes of workspace `step` needs.
size_t layer_step_workspace_bytes(const LayerStepArgs& args);

/// Whether the kernels take these sizes (the first kernel holds two floats per feature of a
/// headwise block in shared memory; DH within the memory kernel's limit).
bool layer_step_supported(int features, int heads, int qkv_blocks, int conv_taps);

/// Queues the step on `stream`.
cudaError_t layer_step(const LayerStepArgs& args, cudaStream_t stream);

}  // namespace xlstm::kernels::mlstm
