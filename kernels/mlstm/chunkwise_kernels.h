// Launch API of the chunkwise mLSTM kernels: the forward over a whole sequence (optionally from a
// given memory, optionally returning the last one) and its backward. Raw pointers and a stream
// only (no LibTorch); the bridges are src/ops/mlstm/chunkwise_cuda.cpp and
// chunkwise_backward_cuda.cpp.
//
// The math, per (batch, head), keys pre-scaled by 1/sqrt(DHqk) (docs/mlstm.md derives it; it is
// ops::mlstm::chunkwise_stabilized's). Chunk c holds positions cL .. cL + L - 1 (local index t);
// positions at or past `seq` count as q = k = v = 0, i = -inf, log f = 0 (they change nothing).
//   lf_t = log sigmoid(f_t),  b_t = sum_{u <= t} lf_u (inside the chunk),  g = b_{L-1}
//   the memory before the chunk: (C_c, n_c, m_c); with no history C = n = 0 and m = -inf
//   log D_ts = b_t - b_s + i_s for s <= t;   m_t = max(max_{s <= t} log D_ts, b_t + m_c)
//   num_t = exp(b_t + m_c - m_t) C_c^T q_t + sum_{s <= t} exp(log D_ts - m_t) (q_t . k_s) v_s
//   den_t = exp(b_t + m_c - m_t) n_c . q_t + sum_{s <= t} exp(log D_ts - m_t) (q_t . k_s)
//   h_t = num_t / (max(|den_t|, exp(-m_t)) + eps)
//   a_s = g - b_s + i_s;   m_{c+1} = max(g + m_c, max_s a_s)
//   C_{c+1} = exp(g + m_c - m_{c+1}) C_c + sum_s exp(a_s - m_{c+1}) k_s v_s^T   (n: k_s for v_s)
// The backward treats every stabiliser (m_c, m_t) as a constant, as the mlstm_kernels package
// does: h depends on them only through eps and the exp(-m_t) floor of the normaliser.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "common/element_type.h"

namespace xlstm::kernels::mlstm {

/// Shapes shared by the forward and the backward. Every tensor is contiguous.
struct ChunkwiseShape {
  int batch = 0, heads = 0, seq = 0, qk_head_dim = 0, v_head_dim = 0;
  int chunk_size = 0;                                 // L; num_chunks() = ceil(seq / L)
  ElementType element_type = ElementType::kBFloat16;  // of q, k, v, h, dh, dq, dk, dv

  int num_chunks() const { return (seq + chunk_size - 1) / chunk_size; }
};

/// What the forward keeps for the backward, all written by the forward when `save` is set.
struct ChunkwiseSaved {
  void* chunk_C = nullptr;   // [B, NH, NC, DHqk, DHv] C_c, the memory before each chunk, in
                             // element_type (float32 when element_type is kFloat32)
  float* chunk_n = nullptr;  // [B, NH, NC, DHqk] n_c
  float* chunk_m = nullptr;  // [B, NH, NC] m_c (-inf before the first chunk without history)
  float* row_m = nullptr;    // [B, NH, S] m_t of every position
  float* row_den = nullptr;  // [B, NH, S] den_t of every position (signed, before the max)
};

struct ChunkwiseForwardArgs {
  ChunkwiseShape shape;
  const void *q = nullptr, *k = nullptr;           // [B, NH, S, DHqk]
  const void* v = nullptr;                         // [B, NH, S, DHv]
  const float *igate = nullptr, *fgate = nullptr;  // [B, NH, S] pre-activations
  // The memory before position 0 ([B, NH, DHqk, DHv], [B, NH, DHqk], [B, NH]); all null: none.
  const float *C_initial = nullptr, *n_initial = nullptr, *m_initial = nullptr;
  void* h = nullptr;  // [B, NH, S, DHv]
  // The memory after the last position; all null: not wanted.
  float *C_last = nullptr, *n_last = nullptr, *m_last = nullptr;
  bool save = false;  // write `saved` for the backward
  ChunkwiseSaved saved;
  float eps = 1e-6f;
};

struct ChunkwiseBackwardArgs {
  ChunkwiseShape shape;
  const void *q = nullptr, *k = nullptr, *v = nullptr;  // as in the forward
  const float *igate = nullptr, *fgate = nullptr;
  const float *C_initial = nullptr, *n_initial = nullptr, *m_initial = nullptr;  // or all null
  const void* h = nullptr;   // the forward's output
  ChunkwiseSaved saved;      // what the forward saved (read only)
  const void* dh = nullptr;  // [B, NH, S, DHv] gradient of h
  // Gradients of the last memory ([B, NH, DHqk, DHv], [B, NH, DHqk]); null: zero.
  const float *dC_last = nullptr, *dn_last = nullptr;
  void *dq = nullptr, *dk = nullptr, *dv = nullptr;  // like q, k, v (dk of the unscaled keys)
  float *digate = nullptr, *dfgate = nullptr;        // [B, NH, S], of the pre-activations
  // Gradients of the initial memory (written when C_initial is given and these are not null).
  float *dC_initial = nullptr, *dn_initial = nullptr;
  void* workspace = nullptr;  // chunkwise_backward_workspace_bytes(shape) bytes
  float eps = 1e-6f;
  // The chunk size `saved` was written at (0: shape.chunk_size); it divides shape.chunk_size, and
  // the backward reads every (shape.chunk_size / it)-th saved memory (saved NC = ceil(S / it)).
  int saved_chunk_size = 0;
};

/// Whether the kernels take these shapes (head dims, chunk size, element type).
/// The backward's also whether it reads tensors saved at `saved_chunk_size` (0: shape.chunk_size).
bool chunkwise_forward_supports(const ChunkwiseShape& shape);
bool chunkwise_backward_supports(const ChunkwiseShape& shape, int saved_chunk_size = 0);

/// The chunk size the kernels run fastest with at these head dims and element type.
int chunkwise_preferred_chunk_size(int qk_head_dim, int v_head_dim, ElementType element_type);

/// The chunk size the backward runs fastest with on tensors the forward saved at
/// `saved_chunk_size` (a multiple of it; the saved one when no multiple is supported).
int chunkwise_backward_preferred_chunk_size(int qk_head_dim, int v_head_dim,
                                            ElementType element_type, int saved_chunk_size);

std::size_t chunkwise_backward_workspace_bytes(const ChunkwiseShape& shape);

/// Queue the forward / backward on `stream`.
cudaError_t chunkwise_forward(const ChunkwiseForwardArgs& args, cudaStream_t stream);
cudaError_t chunkwise_backward(const ChunkwiseBackwardArgs& args, cudaStream_t stream);

}  // namespace xlstm::kernels::mlstm
