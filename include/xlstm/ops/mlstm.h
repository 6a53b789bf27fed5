// The mLSTM cell's sequence math as functions of tensors (the counterpart of the mlstm_kernels
// package): the parallel form, the chunkwise form and the recurrent step.
//
// Shapes: queries / keys [B, NH, S, DHqk], values [B, NH, S, DHv] (the xLSTM models of the paper
// have DHqk = DHv; xLSTM-7B has 256 and 512), gate pre-activations [B, NH, S, 1]. The memory
// (C, n, m) is kept stabilised: the true matrix memory is C * exp(m) and the true normaliser n *
// exp(m) (xLSTM paper, eqs. 19-27 with the stabiliser m of eqs. 15-17). Reduced-precision inputs
// (bfloat16, float16) are computed in float32; h is returned in the input dtype, the state in the
// compute dtype. docs/mlstm.md derives the three forms.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/torch.h>

namespace xlstm::ops::mlstm {

/// The recurrent memory: C [B, NH, DHqk, DHv], n [B, NH, DHqk, 1], m [B, NH, 1, 1]. All undefined
/// means "no history".
struct CellState {
  torch::Tensor C, n, m;

  bool defined() const { return C.defined() && n.defined() && m.defined(); }
  /// C = n = m = 0: the Python cell's initial state for `step`.
  static CellState zeros(int64_t batch, int64_t heads, int64_t head_dim,
                         const torch::TensorOptions& options);
  static CellState zeros(int64_t batch, int64_t heads, int64_t qk_head_dim, int64_t v_head_dim,
                         const torch::TensorOptions& options);
};

/// The whole sequence at once through the S x S gate matrix D (the paper's parallel form,
/// Appendix). `lower_triangular_matrix` (bool, at least S x S) is used when given, else built.
/// Memory quadratic in S.
torch::Tensor parallel_stabilized(const torch::Tensor& queries, const torch::Tensor& keys,
                                  const torch::Tensor& values, const torch::Tensor& igate_preact,
                                  const torch::Tensor& fgate_preact,
                                  const torch::Tensor& lower_triangular_matrix = {},
                                  bool stabilize_rowwise = true, double eps = 1e-6);

/// One position (S = 1) from `state` (must be defined; see CellState::zeros). Returns
/// (h [B, NH, 1, DH], new state). `out`, when given, receives the new state (tensors of the
/// state's shapes and compute dtype; they may be `state`'s own, which then is updated in place;
/// the same numbers as without) and is returned as it.
std::pair<torch::Tensor, CellState> recurrent_step_stabilized(
    const CellState& state, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, double eps = 1e-6,
    const CellState* out = nullptr);

/// Whether chunkwise_stabilized runs these inputs on the CUDA kernels (kernels/mlstm/): a build
/// with CUDA, CUDA inputs of a dtype and head dims the kernels take (bfloat16 / float16 / float32),
/// every tensor on one device, the backward kernels too when a gradient is needed, and the
/// environment variable XLSTM_MLSTM_CHUNKWISE_KERNEL not "0". The kernels choose their own
/// chunk size (every chunk size computes the same, up to rounding).
bool chunkwise_uses_kernels(const torch::Tensor& queries, const torch::Tensor& keys,
                            const torch::Tensor& values, const torch::Tensor& igate_preact,
                            const torch::Tensor& fgate_preact, const CellState& initial = {});

/// Chunkwise form: the D matrix inside chunks of `chunk_size` positions, the memory (C, n, m)
/// carried between chunks. Any S (the last chunk may be shorter); memory linear in S. With an
/// undefined `initial` state it equals parallel_stabilized; from a defined state it equals the
/// loop of recurrent steps. Returns (h [B, NH, S, DH], final state).
std::pair<torch::Tensor, CellState> chunkwise_stabilized(
    const torch::Tensor& queries, const torch::Tensor& keys, const torch::Tensor& values,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact,
    const CellState& initial = {}, int64_t chunk_size = 64, double eps = 1e-6);

}  // namespace xlstm::ops::mlstm
