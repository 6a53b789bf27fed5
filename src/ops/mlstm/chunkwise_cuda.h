// The bridge to the chunkwise mLSTM kernels (kernels/mlstm/chunkwise_kernels.h): tensors in,
// tensors out, no autograd (chunkwise_autograd_cuda.cpp builds the differentiable op on these).
// Declared for every build, defined only in builds with XLSTM_WITH_CUDA.
#pragma once

#include <utility>

#include "xlstm/ops/mlstm.h"

namespace xlstm::ops::mlstm::detail {

/// What the forward keeps for the backward (kernels::mlstm::ChunkwiseSaved as tensors).
struct ChunkwiseKernelSaved {
  torch::Tensor chunk_C;  // [B, NH, NC, DHqk, DHv], the input dtype (float32 for float32)
  torch::Tensor chunk_n;  // [B, NH, NC, DHqk] float32
  torch::Tensor chunk_m;  // [B, NH, NC] float32
  torch::Tensor row_m;    // [B, NH, S] float32
  torch::Tensor row_den;  // [B, NH, S] float32
  int64_t chunk_size = 0;
};

struct ChunkwiseKernelForward {
  torch::Tensor h;             // [B, NH, S, DHv], the input dtype
  CellState last;              // float32, defined when asked for
  ChunkwiseKernelSaved saved;  // defined when asked for
};

struct ChunkwiseKernelGradients {
  torch::Tensor dq, dk, dv;      // the inputs' shapes and dtypes
  torch::Tensor digate, dfgate;  // [B, NH, S, 1] float32
  CellState dinitial;            // C and n defined when an initial state was given; m undefined
};

/// Whether the kernels take these inputs: CUDA tensors, q / k / v of one dtype the kernels
/// support at these head dims, and the environment variable XLSTM_MLSTM_CHUNKWISE_KERNEL not "0".
/// `backward`: the backward kernels must take them too.
bool chunkwise_kernel_applies(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, bool backward);

/// The forward of chunkwise_stabilized by the kernels. Arguments as there (gates [B, NH, S, 1] of
/// any float dtype, `initial` undefined or float32); `chunk_size` <= 0 picks the kernels'
/// preferred one. Never records autograd history.
ChunkwiseKernelForward chunkwise_kernel_forward(const torch::Tensor& q, const torch::Tensor& k,
                                                const torch::Tensor& v,
                                                const torch::Tensor& igate_preact,
                                                const torch::Tensor& fgate_preact,
                                                const CellState& initial, int64_t chunk_size,
                                                double eps, bool return_last, bool save);

/// chunkwise_stabilized on the kernels (inputs as there, `initial` undefined or float32), with
/// autograd history when an input requires grad: returns (h, last memory).
std::pair<torch::Tensor, CellState> chunkwise_kernel(const torch::Tensor& q, const torch::Tensor& k,
                                                     const torch::Tensor& v,
                                                     const torch::Tensor& igate_preact,
                                                     const torch::Tensor& fgate_preact,
                                                     const CellState& initial, double eps);

/// Its backward: the forward's inputs, output h and saved tensors, the gradient of h and of the
/// last memory (C and n; undefined means zero). It runs at `chunk_size`, a multiple of
/// saved.chunk_size (<= 0: the kernels' preferred one for saved.chunk_size).
ChunkwiseKernelGradients chunkwise_kernel_backward(
    const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, const CellState& initial,
    const torch::Tensor& h, const ChunkwiseKernelSaved& saved, const torch::Tensor& dh,
    const CellState& dlast, double eps, int64_t chunk_size = 0);

}  // namespace xlstm::ops::mlstm::detail
