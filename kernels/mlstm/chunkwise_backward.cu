// The chunkwise mLSTM backward (chunkwise_kernels.h; docs/mlstm.md, "Chunkwise backward", derives
// it). Four launches on one stream, per (batch, head) s and chunk c:
//   scores: S = Q K^T and dh V^T of the chunk; writes dS = (dnum . v + dden) D and P / N (L x L,
//           the element type), the column sums of dS * S and per row dden_t and the row term of
//           db_t (the L x L matrices are what the later launches read instead of recomputing);
//   state:  the reverse recurrence dC_c = decay_c dC_{c+1} + sum_t (alpha_t / N_t) q_t dh_t^T
//           (and dn), a block per 64 x 64 tile of dC in float32 registers; writes dC_{c+1} for
//           every chunk and <dC_{c+1}, C_c> + <dn_{c+1}, n_c>;
//   grads:  dq, dk, dv of a chunk, a block per 64 columns of one of them; the key blocks also sum
//           the gradients of the state weights' logs;
//   gates:  di, then db and its reverse cumulative sum: df.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "mlstm/chunkwise_backward_tiles.cuh"
#include "mlstm/chunkwise_float32.cuh"
#include "mlstm/chunkwise_kernels.h"

namespace xlstm::kernels::mlstm {
namespace {

// What the launches share: the arguments and the workspace's parts.
struct BackwardParams {
  ChunkwiseBackwardArgs a;
  int num_chunks = 0;
  // The saved memories (C, n, m) come every saved_per_chunk-th of saved_num_chunks per head: the
  // forward may have saved them at a chunk size dividing this one.
  int saved_num_chunks = 0, saved_per_chunk = 1;
  float key_scale = 1.f;         // 1 / sqrt(DHqk)
  void* dC_next = nullptr;       // [s, NC, DHqk, DHv] dC_{c+1}, element type
  float* dn_next = nullptr;      // [s, NC, DHqk]
  void* dS = nullptr;            // [s, NC, L, L] element type
  void* P_norm = nullptr;        // [s, NC, L, L] P_ts / N_t, element type
  float* r_colsum = nullptr;     // [s, NC L] sum_t dS_ts S_ts
  float* row_dden = nullptr;     // [s, NC L] dden_t
  float* row_db = nullptr;       // [s, NC L] dh_t . h_t (1 - |den_t| / N_t if the max took den)
  float* dlog_w = nullptr;       // [s, NC L] d log w_s (accumulated)
  float* state_dot = nullptr;    // [s, NC] <dC_{c+1}, C_c> + <dn_{c+1}, n_c> (accumulated)
  float* chunk_scale = nullptr;  // [s, NC] sigma_c = max_t 1 / N_t: the operands that carry
                                 // 1 / N_t are stored divided by it (fp16 range)

  // Index of the saved memory before chunk c of head s.
  __device__ std::size_t saved_chunk(int s, int c) const {
    return std::size_t(s) * saved_num_chunks + std::size_t(c) * saved_per_chunk;
  }
};

struct WorkspaceLayout {
  std::size_t dC_next, dn_next, dS, P_norm, r_colsum, row_dden, row_db, dlog_w, state_dot,
      chunk_scale, total;
  std::size_t zeroed_begin;  // dlog_w .. state_dot are accumulated into: zero before the launches
};

std::size_t element_bytes(ElementType type) {
  return type == ElementType::kFloat32 ? 4 : 2;
}

WorkspaceLayout workspace_layout(const ChunkwiseShape& shape) {
  const std::size_t heads = std::size_t(shape.batch) * shape.heads, nc = shape.num_chunks(),
                    L = shape.chunk_size, e = element_bytes(shape.element_type);
  WorkspaceLayout w{};
  std::size_t at = 0;
  auto take = [&](std::size_t bytes) {
    const std::size_t start = at;
    at += (bytes + 255) / 256 * 256;
    return start;
  };
  w.dC_next = take(heads * nc * shape.qk_head_dim * shape.v_head_dim * e);
  w.dn_next = take(heads * nc * shape.qk_head_dim * 4);
  w.dS = take(heads * nc * L * L * e);
  w.P_norm = take(heads * nc * L * L * e);
  w.r_colsum = take(heads * nc * L * 4);
  w.row_dden = take(heads * nc * L * 4);
  w.row_db = take(heads * nc * L * 4);
  w.dlog_w = take(heads * nc * L * 4);
  w.state_dot = take(heads * nc * 4);
  w.chunk_scale = take(heads * nc * 4);
  w.zeroed_begin = w.dlog_w;
  w.total = at;
  return w;
}

// 1 / N_t of a valid position: N_t = max(|den_t|, exp(-m_t)) + eps.
__device__ __forceinline__ float normaliser(float den, float m, float eps) {
  return fmaxf(fabsf(den), expf(-m)) + eps;
}

template <typename T, int L>
__global__ void __launch_bounds__(2 * L) scores_kernel(BackwardParams p) {
  const ChunkwiseBackwardArgs& a = p.a;
  const int c = blockIdx.x, s = blockIdx.y, S = a.shape.seq, L_pad = p.num_chunks * L;
  const int DK = a.shape.qk_head_dim, DV = a.shape.v_head_dim, t0 = c * L, valid = min(L, S - t0);
  extern __shared__ uint4 smem_raw[];
  // Two stages of (q, k), then of (dh, v), [L][kTileLd] each.
  T* Qs = reinterpret_cast<T*>(smem_raw);
  __shared__ ChunkGates<L> cg;
  __shared__ float inv_norm[L], dhh[L], dden[L], colsum[L];
  const std::size_t row0 = std::size_t(s) * S + t0;
  load_chunk_gates<L>(cg, a.igate + std::size_t(s) * S, a.fgate + std::size_t(s) * S,
                      p.a.saved.row_m + std::size_t(s) * S, a.saved.chunk_m[p.saved_chunk(s, c)],
                      t0, valid);
  const int t = threadIdx.x;
  if (t < L) {
    inv_norm[t] = t < valid ? 1.f / normaliser(a.saved.row_den[row0 + t], cg.m_row[t], a.eps) : 0.f;
    dhh[t] = 0.f;
    colsum[t] = 0.f;
  }
  const int warp = threadIdx.x / 32, m0 = warp * 16;
  float s_acc[L / 8][4] = {}, dp_acc[L / 8][4] = {};
  const T* q = static_cast<const T*>(a.q) + row0 * DK;
  const T* k = static_cast<const T*>(a.k) + row0 * DK;
  double_buffered(
      Qs, 2 * L * kTileLd, DK,
      [&](int d0, T* st) {
        async_load_tile(st, kTileLd, q + d0, DK, L, kTile, valid);
        async_load_tile(st + L * kTileLd, kTileLd, k + d0, DK, L, kTile, valid);
      },
      [&](int, const T* st) {
        warp_tile_mma<T, false, false, L / 8>(s_acc, st, kTileLd, st + L * kTileLd, kTileLd, m0, 0,
                                              kTile);
      });
  const T* dh = static_cast<const T*>(a.dh) + row0 * DV;
  const T* v = static_cast<const T*>(a.v) + row0 * DV;
  const T* h = static_cast<const T*>(a.h) + row0 * DV;
  double_buffered(
      Qs, 2 * L * kTileLd, DV,
      [&](int d0, T* st) {
        async_load_tile(st, kTileLd, dh + d0, DV, L, kTile, valid);
        async_load_tile(st + L * kTileLd, kTileLd, v + d0, DV, L, kTile, valid);
      },
      [&](int d0, const T* st) {
        warp_tile_mma<T, false, false, L / 8>(dp_acc, st, kTileLd, st + L * kTileLd, kTileLd, m0, 0,
                                              kTile);
        // dh_t . h_t: two threads per row, 32 columns each.
        const int row = threadIdx.x / 2, half = threadIdx.x % 2;
        float part = 0.f;
        if (row < valid) {
          const T* hr = h + std::size_t(row) * DV + d0 + half * 32;
          const T* dr = st + row * kTileLd + half * 32;
#pragma unroll 8
          for (int j = 0; j < 32; ++j) part += to_float(dr[j]) * to_float(hr[j]);
        }
        part += __shfl_xor_sync(0xffffffffu, part, 1);
        if (half == 0) dhh[row] += part;
      });
  if (t < L) {
    float dd = 0.f, db = 0.f;
    if (t < valid) {
      const float den = a.saved.row_den[row0 + t];
      const bool takes_den = fabsf(den) > expf(-cg.m_row[t]);
      dd = takes_den ? -copysignf(1.f, den) * dhh[t] * inv_norm[t] : 0.f;
      db = dhh[t] * (takes_den ? 1.f - fabsf(den) * inv_norm[t] : 1.f);
      const std::size_t r = std::size_t(s) * L_pad + t0 + t;
      p.row_dden[r] = dd;
      p.row_db[r] = db;
    }
    dden[t] = dd;
  }
  const float sigma = block_reduce<true>(t < L ? inv_norm[t] : 0.f, cg.scratch);
  if (t == 0) p.chunk_scale[s * p.num_chunks + c] = sigma;
  const float inv_sigma = 1.f / sigma;
  T* dS = static_cast<T*>(p.dS) + (std::size_t(s) * p.num_chunks + c) * L * L;
  T* Pn = static_cast<T*>(p.P_norm) + (std::size_t(s) * p.num_chunks + c) * L * L;
#pragma unroll
  for (int nt = 0; nt < L / 8; ++nt) {
    float r_col[2] = {0.f, 0.f}, ds[4], pn[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int tr = acc_row(m0, e), sc = acc_col(nt, e);
      ds[e] = pn[e] = 0.f;
      if (sc <= tr && tr < valid) {
        const float D = expf(cg.b[tr] - cg.b[sc] + cg.ig[sc] - cg.m_row[tr]);
        const float score = s_acc[nt][e] * p.key_scale;
        ds[e] = (dp_acc[nt][e] * inv_norm[tr] + dden[tr]) * D;
        pn[e] = score * D * inv_norm[tr];
        r_col[e % 2] += ds[e] * score;
        ds[e] *= inv_sigma;
        pn[e] *= inv_sigma;
      }
    }
    const int tr = acc_row(m0, 0), sc = acc_col(nt, 0);
    store_pair(dS + tr * L + sc, ds[0], ds[1]);
    store_pair(dS + (tr + 8) * L + sc, ds[2], ds[3]);
    store_pair(Pn + tr * L + sc, pn[0], pn[1]);
    store_pair(Pn + (tr + 8) * L + sc, pn[2], pn[3]);
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      for (int o = 4; o < 32; o *= 2) r_col[j] += __shfl_xor_sync(0xffffffffu, r_col[j], o);
      if (threadIdx.x % 32 < 4) atomicAdd(&colsum[sc + j], r_col[j]);
    }
  }
  __syncthreads();
  if (t < valid) p.r_colsum[std::size_t(s) * L_pad + t0 + t] = colsum[t];
}

constexpr int kStatePassThreads = 128;  // 4 warps, 16 rows of a 64 x 64 tile of dC each
constexpr int kStateRows = 64;          // chunk rows staged at a time

template <typename T, int L>
__global__ void __launch_bounds__(kStatePassThreads, 9) state_kernel(BackwardParams p) {
  const ChunkwiseBackwardArgs& a = p.a;
  const int DK = a.shape.qk_head_dim, DV = a.shape.v_head_dim, S = a.shape.seq, NC = p.num_chunks,
            L_pad = NC * L;
  const int v_tiles = DV / kTile, r0 = (blockIdx.x / v_tiles) * kTile,
            c0 = (blockIdx.x % v_tiles) * kTile, s = blockIdx.y;
  const bool owns_n = c0 == 0;  // the blocks of the first column tile also carry dn
  extern __shared__ uint4 smem_raw[];
  T* Qs = reinterpret_cast<T*>(smem_raw);  // [64][kTileLd]: q_t alpha_t / (N_t sigma_c)
  T* Hs = Qs + kStateRows * kTileLd;       // [64][kTileLd]: dh_t
  __shared__ ChunkGates<L> cg;
  // alpha_t / (N_t sigma_c), and alpha_t dden_t over it (the weight of Qs's row in dn)
  __shared__ float q_coef[L], n_coef[L];
  const int warp = threadIdx.x / 32, m0 = warp * 16, t = threadIdx.x;
  float acc[8][4];
  const std::size_t head_C = std::size_t(s) * DK * DV;
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      acc[nt][e] =
          a.dC_last
              ? a.dC_last[head_C + std::size_t(r0 + acc_row(m0, e)) * DV + c0 + acc_col(nt, e)]
              : 0.f;
  float dn = owns_n && t < kTile && a.dn_last ? a.dn_last[std::size_t(s) * DK + r0 + t] : 0.f;
  float acc_scale = 1.f;  // dC = acc_scale * acc (the products add in units of sigma_c)
  for (int c = NC - 1; c >= 0; --c) {
    const int t0 = c * L, valid = min(L, S - t0);
    const std::size_t row0 = std::size_t(s) * S + t0, chunk = std::size_t(s) * NC + c,
                      saved = p.saved_chunk(s, c);
    load_chunk_gates<L>(cg, a.igate + std::size_t(s) * S, a.fgate + std::size_t(s) * S,
                        a.saved.row_m + std::size_t(s) * S, a.saved.chunk_m[saved], t0, valid);
    // dC_{c+1} out, and its part of <dC_{c+1}, C_c> + <dn_{c+1}, n_c>.
    T* dC_out = static_cast<T*>(p.dC_next) + chunk * DK * DV;
    const T* C_c = static_cast<const T*>(a.saved.chunk_C) + saved * DK * DV;
    float dot = 0.f;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; e += 2) {
        const std::size_t at = std::size_t(r0 + acc_row(m0, e)) * DV + c0 + acc_col(nt, e);
        store_pair(dC_out + at, acc_scale * acc[nt][e], acc_scale * acc[nt][e + 1]);
        dot += acc[nt][e] * to_float(C_c[at]) + acc[nt][e + 1] * to_float(C_c[at + 1]);
      }
    dot *= acc_scale;
    if (owns_n && t < kTile) {
      p.dn_next[chunk * DK + r0 + t] = dn;
      dot += dn * a.saved.chunk_n[saved * DK + r0 + t];
    }
    dot = block_reduce<false>(dot, cg.scratch);
    if (t == 0 && dot != 0.f) atomicAdd(&p.state_dot[chunk], dot);
    const float sigma = p.chunk_scale[chunk];
    if (t < L) {
      float qc = 0.f, nc = 0.f;
      if (t < valid) {
        const float m = cg.m_row[t], norm = normaliser(a.saved.row_den[row0 + t], m, a.eps);
        qc = expf(cg.b[t] + cg.m_prev - m) / (norm * sigma);
        nc = p.row_dden[std::size_t(s) * L_pad + t0 + t] * norm * sigma;
      }
      q_coef[t] = qc;
      n_coef[t] = nc;
    }
    __syncthreads();
    const float decay = cg.decay, rescale = decay * acc_scale / sigma;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[nt][e] *= rescale;
    acc_scale = sigma;
    float dn_sum = 0.f;
    // The chunk's rows in slices of 64 (shared memory for more resident blocks).
    for (int r_begin = 0; r_begin < L; r_begin += kStateRows) {
      const int slice_valid = min(kStateRows, valid - r_begin);
      if (slice_valid <= 0) break;  // the same for the whole block
      async_load_tile(Hs, kTileLd, static_cast<const T*>(a.dh) + (row0 + r_begin) * DV + c0, DV,
                      kStateRows, kTile, slice_valid);
      const T* q = static_cast<const T*>(a.q) + (row0 + r_begin) * DK + r0;
      for (int i = threadIdx.x; i < kStateRows * (kTile / 8); i += blockDim.x) {
        const int r = i / (kTile / 8), col = (i % (kTile / 8)) * 8;
        uint4 packed = make_uint4(0, 0, 0, 0);
        if (r < slice_valid) {
          const uint4 raw = *reinterpret_cast<const uint4*>(q + std::size_t(r) * DK + col);
          const T* x = reinterpret_cast<const T*>(&raw);
          unsigned* out = reinterpret_cast<unsigned*>(&packed);
          const float coef = q_coef[r_begin + r];
#pragma unroll
          for (int j = 0; j < 4; ++j)
            out[j] = pack2<T>(to_float(x[2 * j]) * coef, to_float(x[2 * j + 1]) * coef);
        }
        *reinterpret_cast<uint4*>(Qs + r * kTileLd + col) = packed;
      }
      cp_async_wait_all_and_sync();
      warp_tile_mma<T, true, true, 8>(acc, Qs, kTileLd, Hs, kTileLd, m0, 0, kStateRows);
      if (owns_n && t < kTile) {
#pragma unroll 8
        for (int r = 0; r < kStateRows; ++r)
          dn_sum += n_coef[r_begin + r] * to_float(Qs[r * kTileLd + t]);
      }
      __syncthreads();
    }
    dn = decay * dn + dn_sum;
  }
  if (a.C_initial && a.dC_initial) {
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        a.dC_initial[head_C + std::size_t(r0 + acc_row(m0, e)) * DV + c0 + acc_col(nt, e)] =
            acc_scale * acc[nt][e];
    if (owns_n && t < kTile && a.dn_initial) a.dn_initial[std::size_t(s) * DK + r0 + t] = dn;
  }
}

// Per-position weights of the memory terms of one chunk (0 past the sequence).
template <int L>
struct RowWeights {
  float q[L];  // alpha_t / N_t, of C_c dh_t in dq_t
  float n[L];  // alpha_t dden_t, of n_c in dq_t
  float w[L];  // w_s = exp(g - b_s + i_s - m_{c+1}), of k_s v_s^T in C_{c+1}
};

// dq and dk of 64 key columns (j0 ..) of one chunk.
template <typename T, int L>
__device__ void query_key_grads(const BackwardParams& p, const ChunkGates<L>& cg,
                                const RowWeights<L>& rw, T* smem, int j0, int c, int s, int valid) {
  const ChunkwiseBackwardArgs& a = p.a;
  const int DK = a.shape.qk_head_dim, DV = a.shape.v_head_dim, S = a.shape.seq, NC = p.num_chunks,
            t0 = c * L;
  const std::size_t row0 = std::size_t(s) * S + t0, chunk = std::size_t(s) * NC + c,
                    saved = p.saved_chunk(s, c);
  const int warp = threadIdx.x / 32, m0 = warp * 16;
  // A stage: dh and v [L][kTileLd], C_c and dC_{c+1} rows j0 .. [64][kTileLd].
  constexpr int kV = L * kTileLd, kC = 2 * L * kTileLd, kdC = kC + kTile * kTileLd;
  float dq[8][4] = {}, dk[8][4] = {};
  const T* C_c = static_cast<const T*>(a.saved.chunk_C) + saved * DK * DV + std::size_t(j0) * DV;
  const T* dC = static_cast<const T*>(p.dC_next) + chunk * DK * DV + std::size_t(j0) * DV;
  const bool has_history = cg.m_prev > kNegInf;
  double_buffered(
      smem, kdC + kTile * kTileLd, DV,
      [&](int d0, T* st) {
        async_load_tile(st, kTileLd, static_cast<const T*>(a.dh) + row0 * DV + d0, DV, L, kTile,
                        valid);
        async_load_tile(st + kV, kTileLd, static_cast<const T*>(a.v) + row0 * DV + d0, DV, L, kTile,
                        valid);
        if (has_history) async_load_tile(st + kC, kTileLd, C_c + d0, DV, kTile, kTile, kTile);
        async_load_tile(st + kdC, kTileLd, dC + d0, DV, kTile, kTile, kTile);
      },
      [&](int, const T* st) {
        if (has_history)
          warp_tile_mma<T, false, false, 8>(dq, st, kTileLd, st + kC, kTileLd, m0, 0, kTile);
        warp_tile_mma<T, false, false, 8>(dk, st + kV, kTileLd, st + kdC, kTileLd, m0, 0, kTile);
      });
  T* dSs = smem;              // [L][L + 8]
  T* Qs = dSs + L * (L + 8);  // [L][kTileLd] q columns j0 ..
  T* Ks = Qs + L * kTileLd;   // [L][kTileLd] k columns j0 ..
  async_load_tile(dSs, L + 8, static_cast<const T*>(p.dS) + chunk * L * L, L, L, L, L);
  async_load_tile(Qs, kTileLd, static_cast<const T*>(a.q) + row0 * DK + j0, DK, L, kTile, valid);
  async_load_tile(Ks, kTileLd, static_cast<const T*>(a.k) + row0 * DK + j0, DK, L, kTile, valid);
  cp_async_wait_all_and_sync();
  // The memory terms: dq_t = (alpha_t / N_t) C_c dh_t + alpha_t dden_t n_c (kept / key_scale
  // until the intra-chunk term joins), dk_s = w_s (dC_{c+1} v_s + dn_{c+1}), and
  // d log w_s = k_s . dk_s of these.
  const float* n_c = a.saved.chunk_n + saved * DK + j0;
  const float* dn = p.dn_next + chunk * DK + j0;
  const std::size_t rows = std::size_t(s) * NC * L + t0;
  const float sigma = p.chunk_scale[chunk], inv_sigma = 1.f / sigma,
              out_scale = sigma * p.key_scale;
  float dlogw[2] = {0.f, 0.f};
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int tr = acc_row(m0, e), j = acc_col(nt, e);
      float q_term = 0.f, k_term = 0.f;
      if (tr < valid) {
        q_term = rw.q[tr] * dq[nt][e] + rw.n[tr] * n_c[j];
        k_term = rw.w[tr] * (dk[nt][e] + dn[j]);
        dlogw[e / 2] += to_float(Ks[tr * kTileLd + j]) * k_term;
      }
      dq[nt][e] = q_term * inv_sigma / p.key_scale;
      dk[nt][e] = k_term * inv_sigma;
    }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    dlogw[h] += __shfl_xor_sync(0xffffffffu, dlogw[h], 1);
    dlogw[h] += __shfl_xor_sync(0xffffffffu, dlogw[h], 2);
    const int tr = acc_row(m0, 2 * h);
    if (threadIdx.x % 4 == 0 && tr < valid) atomicAdd(&p.dlog_w[rows + tr], dlogw[h] * p.key_scale);
  }
  // The intra-chunk terms: dq += dS k (causal: s <= t), dk += dS^T q (t >= s).
  warp_tile_mma<T, false, true, 8>(dq, dSs, L + 8, Ks, kTileLd, m0, 0, m0 + 16);
  warp_tile_mma<T, true, true, 8>(dk, dSs, L + 8, Qs, kTileLd, m0, m0, L);
  T* dq_out = static_cast<T*>(a.dq) + row0 * DK + j0;
  T* dk_out = static_cast<T*>(a.dk) + row0 * DK + j0;
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; e += 2) {
      const int tr = acc_row(m0, e), j = acc_col(nt, e);
      if (tr >= valid) continue;
      store_pair(dq_out + std::size_t(tr) * DK + j, dq[nt][e] * out_scale,
                 dq[nt][e + 1] * out_scale);
      store_pair(dk_out + std::size_t(tr) * DK + j, dk[nt][e] * out_scale,
                 dk[nt][e + 1] * out_scale);
    }
}

// dv of 64 value columns (j0 ..) of one chunk: w_s dC_{c+1}^T k_s + sum_{t >= s} (P_ts / N_t) dh_t.
template <typename T, int L>
__device__ void value_grads(const BackwardParams& p, const RowWeights<L>& rw, T* smem, int j0,
                            int c, int s, int valid) {
  const ChunkwiseBackwardArgs& a = p.a;
  const int DK = a.shape.qk_head_dim, DV = a.shape.v_head_dim, S = a.shape.seq, NC = p.num_chunks,
            t0 = c * L;
  const std::size_t row0 = std::size_t(s) * S + t0, chunk = std::size_t(s) * NC + c;
  const int warp = threadIdx.x / 32, m0 = warp * 16;
  // A stage: k [L][kTileLd] and dC_{c+1} rows d0 .., columns j0 .. [64][kTileLd].
  constexpr int kdC = L * kTileLd;
  float dv[8][4] = {};
  const float sigma = p.chunk_scale[chunk], inv_sigma = 1.f / sigma;
  const T* dC = static_cast<const T*>(p.dC_next) + chunk * DK * DV + j0;
  double_buffered(
      smem, kdC + kTile * kTileLd, DK,
      [&](int d0, T* st) {
        async_load_tile(st, kTileLd, static_cast<const T*>(a.k) + row0 * DK + d0, DK, L, kTile,
                        valid);
        async_load_tile(st + kdC, kTileLd, dC + std::size_t(d0) * DV, DV, kTile, kTile, kTile);
      },
      [&](int, const T* st) {
        warp_tile_mma<T, false, true, 8>(dv, st, kTileLd, st + kdC, kTileLd, m0, 0, kTile);
      });
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) dv[nt][e] *= rw.w[acc_row(m0, e)] * p.key_scale * inv_sigma;
  T* Ps = smem;              // [L][L + 8]
  T* Hs = Ps + L * (L + 8);  // [L][kTileLd] dh columns j0 ..
  async_load_tile(Ps, L + 8, static_cast<const T*>(p.P_norm) + chunk * L * L, L, L, L, L);
  async_load_tile(Hs, kTileLd, static_cast<const T*>(a.dh) + row0 * DV + j0, DV, L, kTile, valid);
  cp_async_wait_all_and_sync();
  warp_tile_mma<T, true, true, 8>(dv, Ps, L + 8, Hs, kTileLd, m0, m0, L);
  T* dv_out = static_cast<T*>(a.dv) + row0 * DV + j0;
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; e += 2) {
      const int tr = acc_row(m0, e), j = acc_col(nt, e);
      if (tr < valid)
        store_pair(dv_out + std::size_t(tr) * DV + j, dv[nt][e] * sigma, dv[nt][e + 1] * sigma);
    }
}

template <typename T, int L>
__global__ void __launch_bounds__(2 * L) grads_kernel(BackwardParams p) {
  const int c = blockIdx.y, s = blockIdx.z, S = p.a.shape.seq, valid = min(L, S - c * L);
  const int key_tiles = p.a.shape.qk_head_dim / kTile;
  extern __shared__ uint4 smem_raw[];
  __shared__ ChunkGates<L> cg;
  load_chunk_gates<L>(cg, p.a.igate + std::size_t(s) * S, p.a.fgate + std::size_t(s) * S,
                      p.a.saved.row_m + std::size_t(s) * S, p.a.saved.chunk_m[p.saved_chunk(s, c)],
                      c * L, valid);
  __shared__ RowWeights<L> rw;
  const int t = threadIdx.x;
  if (t < L) {
    float q = 0.f, n = 0.f, w = 0.f;
    if (t < valid) {
      const std::size_t row = std::size_t(s) * S + c * L + t;
      const float m = cg.m_row[t], alpha = expf(cg.b[t] + cg.m_prev - m);
      q = alpha / normaliser(p.a.saved.row_den[row], m, p.a.eps);
      n = alpha * p.row_dden[std::size_t(s) * p.num_chunks * L + c * L + t];
      w = expf(cg.b[L - 1] - cg.b[t] + cg.ig[t] - cg.m_next);
    }
    rw.q[t] = q;
    rw.n[t] = n;
    rw.w[t] = w;
  }
  __syncthreads();
  T* smem = reinterpret_cast<T*>(smem_raw);
  if (int(blockIdx.x) < key_tiles)
    query_key_grads<T, L>(p, cg, rw, smem, blockIdx.x * kTile, c, s, valid);
  else
    value_grads<T, L>(p, rw, smem, (blockIdx.x - key_tiles) * kTile, c, s, valid);
}

template <int L>
__global__ void __launch_bounds__(L) gates_kernel(BackwardParams p) {
  const ChunkwiseBackwardArgs& a = p.a;
  const int c = blockIdx.x, s = blockIdx.y, S = a.shape.seq, t0 = c * L, valid = min(L, S - t0),
            t = threadIdx.x;
  __shared__ ChunkGates<L> cg;
  __shared__ float db[L];
  const std::size_t chunk = std::size_t(s) * p.num_chunks + c;
  load_chunk_gates<L>(cg, a.igate + std::size_t(s) * S, a.fgate + std::size_t(s) * S,
                      a.saved.row_m + std::size_t(s) * S, a.saved.chunk_m[p.saved_chunk(s, c)], t0,
                      valid);
  const std::size_t r = std::size_t(s) * p.num_chunks * L + t0 + t;
  const float dlogw = t < valid ? p.dlog_w[r] : 0.f;
  const float di = t < valid ? p.r_colsum[r] + dlogw : 0.f;
  // g = b_{L-1} moves C_{c+1} through the decay and every w_s.
  const float dg = cg.decay * p.state_dot[chunk] + block_reduce<false>(dlogw, cg.scratch);
  db[L - 1 - t] = t < valid ? p.row_db[r] - di + (t == valid - 1 ? dg : 0.f) : 0.f;
  __syncthreads();
  // d log f_u = sum_{t >= u} db_t: a prefix sum over the reversed chunk.
  const float dlf = block_inclusive_scan(db[t], L, cg.scratch);
  __syncthreads();
  db[L - 1 - t] = dlf;
  __syncthreads();
  if (t < valid) {
    const std::size_t at = std::size_t(s) * S + t0 + t;
    a.digate[at] = di;
    a.dfgate[at] = db[t] * sigmoid(-a.fgate[at]);
  }
}

template <typename T, int L>
cudaError_t launch(const BackwardParams& p, cudaStream_t stream) {
  const ChunkwiseShape& sh = p.a.shape;
  const int heads = sh.batch * sh.heads, NC = p.num_chunks, key_tiles = sh.qk_head_dim / kTile,
            value_tiles = sh.v_head_dim / kTile;
  const std::size_t scores_smem = 4 * L * kTileLd * sizeof(T);
  const std::size_t state_smem = 2 * kStateRows * kTileLd * sizeof(T);
  const std::size_t grads_smem =
      std::max<std::size_t>(2 * (2 * L + 2 * kTile) * kTileLd, L * (L + 8) + 2 * L * kTileLd) *
      sizeof(T);
  cudaError_t err =
      cudaFuncSetAttribute(scores_kernel<T, L>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(scores_smem));
  if (err == cudaSuccess)
    err = cudaFuncSetAttribute(grads_kernel<T, L>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(grads_smem));
  if (err != cudaSuccess) return err;
  scores_kernel<T, L><<<dim3(NC, heads), 2 * L, scores_smem, stream>>>(p);
  state_kernel<T, L>
      <<<dim3(key_tiles * value_tiles, heads), kStatePassThreads, state_smem, stream>>>(p);
  grads_kernel<T, L><<<dim3(key_tiles + value_tiles, NC, heads), 2 * L, grads_smem, stream>>>(p);
  gates_kernel<L><<<dim3(NC, heads), L, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace

bool chunkwise_backward_supports(const ChunkwiseShape& shape, int saved_chunk_size) {
  const auto dim_ok = [](int d) { return d >= 64 && d <= 512 && d % 64 == 0; };
  const int saved = saved_chunk_size > 0 ? saved_chunk_size : shape.chunk_size;
  // float32: chunk size 64 on tensors saved at 64 only (chunkwise_float32_backward.cu).
  const bool chunk_ok = shape.element_type == ElementType::kFloat32
                            ? shape.chunk_size == 64 && saved == 64
                            : (shape.chunk_size == 64 || shape.chunk_size == 128) && saved > 0 &&
                                  shape.chunk_size % saved == 0;
  return dim_ok(shape.qk_head_dim) && dim_ok(shape.v_head_dim) && chunk_ok;
}

int chunkwise_backward_preferred_chunk_size(int qk_head_dim, int v_head_dim,
                                            ElementType element_type, int saved_chunk_size) {
  // Measured on the H200 (bf16, docs/mlstm.md): 128 beats 64 at every head dim from 64 to 512.
  ChunkwiseShape shape;
  shape.qk_head_dim = qk_head_dim;
  shape.v_head_dim = v_head_dim;
  shape.element_type = element_type;
  shape.chunk_size = 128;
  return chunkwise_backward_supports(shape, saved_chunk_size) ? 128 : saved_chunk_size;
}

std::size_t chunkwise_backward_workspace_bytes(const ChunkwiseShape& shape) {
  if (shape.element_type == ElementType::kFloat32)
    return chunkwise_backward_float32_workspace_bytes(shape);
  return workspace_layout(shape).total;
}

cudaError_t chunkwise_backward(const ChunkwiseBackwardArgs& args, cudaStream_t stream) {
  const ChunkwiseShape& sh = args.shape;
  if (!chunkwise_backward_supports(sh, args.saved_chunk_size)) return cudaErrorInvalidValue;
  if (sh.seq == 0 || sh.batch * sh.heads == 0) return cudaSuccess;
  if (sh.element_type == ElementType::kFloat32) return chunkwise_backward_float32(args, stream);
  const WorkspaceLayout w = workspace_layout(sh);
  char* base = static_cast<char*>(args.workspace);
  BackwardParams p;
  p.a = args;
  p.num_chunks = sh.num_chunks();
  const int saved_L = args.saved_chunk_size > 0 ? args.saved_chunk_size : sh.chunk_size;
  p.saved_num_chunks = (sh.seq + saved_L - 1) / saved_L;
  p.saved_per_chunk = sh.chunk_size / saved_L;
  p.key_scale = 1.f / std::sqrt(static_cast<float>(sh.qk_head_dim));
  p.dC_next = base + w.dC_next;
  p.dn_next = reinterpret_cast<float*>(base + w.dn_next);
  p.dS = base + w.dS;
  p.P_norm = base + w.P_norm;
  p.r_colsum = reinterpret_cast<float*>(base + w.r_colsum);
  p.row_dden = reinterpret_cast<float*>(base + w.row_dden);
  p.row_db = reinterpret_cast<float*>(base + w.row_db);
  p.dlog_w = reinterpret_cast<float*>(base + w.dlog_w);
  p.state_dot = reinterpret_cast<float*>(base + w.state_dot);
  p.chunk_scale = reinterpret_cast<float*>(base + w.chunk_scale);
  cudaError_t err = cudaMemsetAsync(base + w.zeroed_begin, 0, w.total - w.zeroed_begin, stream);
  if (err != cudaSuccess) return err;
  return with_element_type(sh.element_type, [&](auto zero) -> cudaError_t {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, float>) {
      return cudaErrorInvalidValue;  // dispatched to chunkwise_backward_float32 above
    } else {
      return sh.chunk_size == 64 ? launch<T, 64>(p, stream) : launch<T, 128>(p, stream);
    }
  });
}

}  // namespace xlstm::kernels::mlstm
