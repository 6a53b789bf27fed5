// The chunkwise mLSTM forward in float32 (math: chunkwise_kernels.h), SIMT FMA on shared tiles
// (chunkwise_float32.cuh), in the two passes of the tensor-core forward:
//  1. the memory recurrence, one block per (batch * head, 64 x 64 tile of C): C_c, n_c, m_c out,
//     then C += K^T diag(w) V of the chunk;
//  2. the outputs, one block per (batch * head, chunk): S = Q K^T over 64-column slabs, P in shared
//     memory, then per 64 columns of h: P V + diag(exp(m_c - M_t)) Q C_c, normalised.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "common/math.cuh"
#include "mlstm/chunkwise_float32.cuh"
#include "mlstm/chunkwise_gate_scan.cuh"

namespace xlstm::kernels::mlstm {
namespace fwd32 {
namespace {

using simt::kLd;
using simt::kThreads;
using simt::kTile;
using simt::kTileFloats;
static_assert(kTile == kChunkwiseChunk, "one chunk is one shared tile");

struct Params {
  int seq = 0, qk_dim = 0, v_dim = 0, chunks = 0;
  const float *q = nullptr, *k = nullptr, *v = nullptr, *igate = nullptr, *fgate = nullptr;
  const float *C_initial = nullptr, *n_initial = nullptr, *m_initial = nullptr;
  float *h = nullptr, *C_last = nullptr, *n_last = nullptr, *m_last = nullptr;
  float *chunk_C = nullptr, *chunk_n = nullptr, *chunk_m = nullptr, *row_m = nullptr,
        *row_den = nullptr;
  float eps = 0.f, key_scale = 1.f;
};

__global__ void __launch_bounds__(kThreads) states_kernel(Params p) {
  const int v_tiles = p.v_dim / kTile;
  const int qk0 = (blockIdx.x / v_tiles) * kTile, v0 = (blockIdx.x % v_tiles) * kTile;
  const bool n_block = v0 == 0, m_block = blockIdx.x == 0;
  const int bh = blockIdx.y, tid = threadIdx.x;
  const std::size_t seq = p.seq, head_C = std::size_t(bh) * p.qk_dim * p.v_dim;
  __shared__ float ks[kTileFloats], vs[kTileFloats];  // w_s k_s, v_s of the chunk's rows
  __shared__ float b[kTile], u[kTile], M[kTile], w[kTile], scalars[2];

  float acc[4][4];  // C[qk0 + micro_row(i)][v0 + micro_col(j)]
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const std::size_t at =
          std::size_t(qk0 + simt::micro_row(i)) * p.v_dim + v0 + simt::micro_col(j);
      acc[i][j] = p.C_initial ? p.C_initial[head_C + at] : 0.f;
    }
  float n = n_block && tid < kTile && p.n_initial ? p.n_initial[bh * p.qk_dim + qk0 + tid] : 0.f;
  float m = p.m_initial ? p.m_initial[bh] : -INFINITY;
  const float* kg = p.k + bh * seq * p.qk_dim + qk0;
  const float* vg = p.v + bh * seq * p.v_dim + v0;

  for (int c = 0; c < p.chunks; ++c) {
    const std::size_t chunk = std::size_t(bh) * p.chunks + c;
    float* C_out = p.chunk_C + chunk * p.qk_dim * p.v_dim;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        C_out[std::size_t(qk0 + simt::micro_row(i)) * p.v_dim + v0 + simt::micro_col(j)] =
            acc[i][j];
    if (n_block && tid < kTile) p.chunk_n[chunk * p.qk_dim + qk0 + tid] = n;
    if (m_block && tid == 0) p.chunk_m[chunk] = m;

    const int t0 = c * kTile, valid = min(kTile, p.seq - t0);
    if (tid < 32) {
      const ChunkGateTotals tot =
          scan_chunk_gates(p.igate + bh * seq + t0, p.fgate + bh * seq + t0, valid, m, b, u, M);
      __syncwarp();
      for (int t = tid; t < kTile; t += 32) w[t] = expf(u[t] - tot.M_last) * p.key_scale;
      if (tid == 0) {
        scalars[0] = expf(m - tot.M_last);  // the memory's decay over the chunk
        scalars[1] = tot.g + tot.M_last;    // m_{c+1}
      }
    }
    __syncthreads();
    simt::load_tile(ks, kg + std::size_t(t0) * p.qk_dim, p.qk_dim, valid, w);
    simt::load_tile(vs, vg + std::size_t(t0) * p.v_dim, p.v_dim, valid);
    __syncthreads();
    const float decay = scalars[0];
    simt::scale_all(acc, decay);
    simt::tile_fma<true, true>(acc, ks, vs);  // A = (diag(w) K)^T, B = V
    if (n_block && tid < kTile) {
      float add = 0.f;
      for (int s = 0; s < kTile; ++s) add += ks[s * kLd + tid];
      n = fmaf(decay, n, add);
    }
    m = scalars[1];
    __syncthreads();
  }

  if (p.C_last) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        p.C_last[head_C + std::size_t(qk0 + simt::micro_row(i)) * p.v_dim + v0 +
                 simt::micro_col(j)] = acc[i][j];
  }
  if (p.n_last && n_block && tid < kTile) p.n_last[bh * p.qk_dim + qk0 + tid] = n;
  if (p.m_last && m_block && tid == 0) p.m_last[bh] = m;
}

constexpr std::size_t kOutputSmem = 3 * kTileFloats * sizeof(float);

__global__ void __launch_bounds__(kThreads) outputs_kernel(Params p) {
  const int c = blockIdx.x, bh = blockIdx.y, tid = threadIdx.x;
  const int t0 = c * kTile, valid = min(kTile, p.seq - t0);
  const std::size_t seq = p.seq, chunk = std::size_t(bh) * p.chunks + c;
  extern __shared__ float f32_smem[];
  float* qs = f32_smem;          // a 64-column slab of Q (scaled by exp(m_c - M_t) for Q C_c)
  float* xs = qs + kTileFloats;  // K, V or C_c slab
  float* ps = xs + kTileFloats;  // P [t][s]
  __shared__ float b[kTile], u[kTile], M[kTile], qn[kTile], inter[kTile], inv_norm[kTile];

  const float m_c = p.chunk_m[chunk];
  if (tid < 32)
    scan_chunk_gates(p.igate + bh * seq + t0, p.fgate + bh * seq + t0, valid, m_c, b, u, M);
  const float* qg = p.q + (bh * seq + t0) * p.qk_dim;
  const float* kg = p.k + (bh * seq + t0) * p.qk_dim;
  const float* vg = p.v + (bh * seq + t0) * p.v_dim;
  const float* Cg = p.chunk_C + chunk * p.qk_dim * p.v_dim;
  const float* n_c = p.chunk_n + chunk * p.qk_dim;

  float s[4][4] = {};
  float dot = 0.f;  // q_t . n_c of row tid
  for (int d0 = 0; d0 < p.qk_dim; d0 += kTile) {
    simt::load_tile(qs, qg + d0, p.qk_dim, valid);
    simt::load_tile(xs, kg + d0, p.qk_dim, valid);
    __syncthreads();
    simt::tile_fma<false, false>(s, qs, xs);
    if (tid < kTile)
      for (int d = 0; d < kTile; ++d) dot = fmaf(qs[tid * kLd + d], n_c[d0 + d], dot);
    __syncthreads();
  }
  if (tid < kTile) qn[tid] = dot;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int t = simt::micro_row(i), sc = simt::micro_col(j);
      ps[t * kLd + sc] = sc <= t ? s[i][j] * p.key_scale * expf(u[sc] - M[t]) : 0.f;
    }
  __syncthreads();
  if (tid < kTile) {  // the row scalars: inter-chunk weight, normaliser, stabiliser
    const int t = tid;
    float row_sum = 0.f;
    for (int sc = 0; sc < kTile; ++sc) row_sum += ps[t * kLd + sc];
    const float weight = expf(m_c - M[t]);
    const float den = row_sum + weight * qn[t];
    const float m_t = b[t] + M[t];
    inter[t] = weight;
    inv_norm[t] = 1.f / (fmaxf(fabsf(den), expf(-m_t)) + p.eps);
    if (p.row_m && t < valid) {
      p.row_m[bh * seq + t0 + t] = m_t;
      p.row_den[bh * seq + t0 + t] = den;
    }
  }
  __syncthreads();

  float* hg = p.h + (bh * seq + t0) * p.v_dim;
  for (int col0 = 0; col0 < p.v_dim; col0 += kTile) {
    float acc[4][4] = {};
    simt::load_tile(xs, vg + col0, p.v_dim, valid);
    __syncthreads();
    simt::tile_fma<false, true>(acc, ps, xs);  // P V
    __syncthreads();
    for (int d0 = 0; d0 < p.qk_dim; d0 += kTile) {
      simt::load_tile(qs, qg + d0, p.qk_dim, valid, inter);
      simt::load_tile(xs, Cg + std::size_t(d0) * p.v_dim + col0, p.v_dim, kTile);
      __syncthreads();
      simt::tile_fma<false, true>(acc, qs, xs);  // diag(inter) Q C_c
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int t = simt::micro_row(i);
      if (t >= valid) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j)
        hg[std::size_t(t) * p.v_dim + col0 + simt::micro_col(j)] = acc[i][j] * inv_norm[t];
    }
  }
}

}  // namespace
}  // namespace fwd32

cudaError_t chunkwise_forward_float32(const ChunkwiseForwardArgs& args, cudaStream_t stream) {
  const ChunkwiseShape& shape = args.shape;
  const int heads_total = shape.batch * shape.heads;
  fwd32::Params p;
  p.seq = shape.seq;
  p.qk_dim = shape.qk_head_dim;
  p.v_dim = shape.v_head_dim;
  p.chunks = shape.num_chunks();
  p.q = static_cast<const float*>(args.q);
  p.k = static_cast<const float*>(args.k);
  p.v = static_cast<const float*>(args.v);
  p.igate = args.igate;
  p.fgate = args.fgate;
  p.C_initial = args.C_initial;
  p.n_initial = args.n_initial;
  p.m_initial = args.m_initial;
  p.h = static_cast<float*>(args.h);
  p.C_last = args.C_last;
  p.n_last = args.n_last;
  p.m_last = args.m_last;
  p.eps = args.eps;
  p.key_scale = 1.f / std::sqrt(static_cast<float>(shape.qk_head_dim));

  // Without `save` the per-chunk memory lives in stream-ordered scratch.
  void* scratch = nullptr;
  if (args.save) {
    p.chunk_C = static_cast<float*>(args.saved.chunk_C);
    p.chunk_n = args.saved.chunk_n;
    p.chunk_m = args.saved.chunk_m;
    p.row_m = args.saved.row_m;
    p.row_den = args.saved.row_den;
  } else {
    const std::size_t states = std::size_t(heads_total) * p.chunks;
    const std::size_t floats = states * p.qk_dim * p.v_dim + states * p.qk_dim + states;
    cudaError_t err = cudaMallocAsync(&scratch, floats * sizeof(float), stream);
    if (err != cudaSuccess) return err;
    p.chunk_C = static_cast<float*>(scratch);
    p.chunk_n = p.chunk_C + states * p.qk_dim * p.v_dim;
    p.chunk_m = p.chunk_n + states * p.qk_dim;
  }

  const dim3 state_grid((p.qk_dim / fwd32::kTile) * (p.v_dim / fwd32::kTile), heads_total);
  fwd32::states_kernel<<<state_grid, fwd32::kThreads, 0, stream>>>(p);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess)
    err = cudaFuncSetAttribute(fwd32::outputs_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(fwd32::kOutputSmem));
  if (err == cudaSuccess) {
    fwd32::outputs_kernel<<<dim3(p.chunks, heads_total), fwd32::kThreads, fwd32::kOutputSmem,
                            stream>>>(p);
    err = cudaGetLastError();
  }
  if (scratch) {
    const cudaError_t freed = cudaFreeAsync(scratch, stream);
    if (err == cudaSuccess) err = freed;
  }
  return err;
}

}  // namespace xlstm::kernels::mlstm
