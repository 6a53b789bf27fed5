// The gate prefix sums of one chunk of the chunkwise mLSTM (kernels/mlstm/chunkwise_kernels.h), by
// one warp. With b_t the cumulative log forget gate, u_s = i_s - b_s and
// M_t = max(m_c, max_{s <= t} u_s), the contract's stabilisers are m_t = b_t + M_t and
// m_{c+1} = g + M_{L-1}, and every weight is an exponent <= 0:
//   exp(log D_ts - m_t) = exp(u_s - M_t),  exp(b_t + m_c - m_t) = exp(m_c - M_t),
//   exp(a_s - m_{c+1}) = exp(u_s - M_{L-1}),  exp(g + m_c - m_{c+1}) = exp(m_c - M_{L-1}).
// m_c = -inf (no history) gives M_t = max_{s <= t} u_s, finite: no inf - inf anywhere.
#pragma once

#include <cuda_runtime.h>

#include "common/math.cuh"

namespace xlstm::kernels::mlstm {

constexpr int kChunkwiseChunk = 64;  // L, the positions of one chunk

struct ChunkGateTotals {
  float g;       // b_{L-1}: the chunk's total log forget gate
  float M_last;  // M_{L-1}
};

// Called by all lanes of one warp. igate / fgate point at the chunk's first position, of which
// `valid` are real (the rest count as i = -inf, log f = 0). Writes b, u, M [L] (shared memory).
__device__ __forceinline__ ChunkGateTotals scan_chunk_gates(const float* igate, const float* fgate,
                                                            int valid, float m_prev, float* b,
                                                            float* u, float* M) {
  constexpr int kPer = kChunkwiseChunk / 32;  // consecutive positions per lane
  constexpr unsigned kAll = 0xffffffffu;
  const int lane = threadIdx.x % 32;
  float lb[kPer], lu[kPer];
  float run = 0.f;
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int t = lane * kPer + e;
    run += t < valid ? logsigmoid(fgate[t]) : 0.f;
    lb[e] = run;
  }
  float inclusive = run;  // the lanes' sums, scanned
#pragma unroll
  for (int off = 1; off < 32; off *= 2) {
    const float y = __shfl_up_sync(kAll, inclusive, off);
    if (lane >= off) inclusive += y;
  }
  float before = __shfl_up_sync(kAll, inclusive, 1);
  if (lane == 0) before = 0.f;
  float lane_max = -INFINITY;
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int t = lane * kPer + e;
    lb[e] += before;
    lu[e] = t < valid ? igate[t] - lb[e] : -INFINITY;
    lane_max = fmaxf(lane_max, lu[e]);
  }
  float max_inclusive = lane_max;
#pragma unroll
  for (int off = 1; off < 32; off *= 2) {
    const float y = __shfl_up_sync(kAll, max_inclusive, off);
    if (lane >= off) max_inclusive = fmaxf(max_inclusive, y);
  }
  float running = __shfl_up_sync(kAll, max_inclusive, 1);
  running = fmaxf(m_prev, lane == 0 ? -INFINITY : running);
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int t = lane * kPer + e;
    running = fmaxf(running, lu[e]);
    b[t] = lb[e];
    u[t] = lu[e];
    M[t] = running;
  }
  return {__shfl_sync(kAll, lb[kPer - 1], 31), __shfl_sync(kAll, running, 31)};
}

}  // namespace xlstm::kernels::mlstm
