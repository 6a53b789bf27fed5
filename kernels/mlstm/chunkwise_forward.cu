// The chunkwise mLSTM forward (math: chunkwise_kernels.h) as two tensor-core kernels:
//  1. the memory recurrence across chunks, one block per (batch * head, 64 x 64 tile of C): the
//     tile stays in float32 registers, each chunk adds K^T diag(w) V (mma.sync, K and V chunks
//     double-buffered by cp.async) and writes C_c (element type, staged in shared memory for
//     16-byte stores), n_c, m_c: what kernel 2 reads and the backward keeps;
//  2. the outputs, one block per (batch * head, chunk): S = Q K^T once, P = S exp(u_s - M_t)
//     (shared memory, element type), then per DHv tile P V + Q C_c over a ring of cp.async tiles
//     (V rows, then C_c by 64-row slabs, in the shared memory K held), normalised in the epilogue.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "common/convert.cuh"
#include "common/math.cuh"
#include "common/mma.cuh"
#include "common/smem_tiles.cuh"
#include "mlstm/chunkwise_float32.cuh"
#include "mlstm/chunkwise_gate_scan.cuh"
#include "mlstm/chunkwise_kernels.h"

namespace xlstm::kernels::mlstm {
namespace {

constexpr int kL = kChunkwiseChunk;
constexpr int kLd = kL + 8;         // padded row of a 64-wide shared tile
constexpr int kStateThreads = 128;  // kernel 1: 4 warps, 16 rows of the C tile each
constexpr int kOutThreads = 256;    // kernel 2: 8 warps, 2 x 4 over a 64-row output tile
// Measured on the H200 against 3 and 4 stages, 2 and 4 ring tiles, 64-wide DHv tiles and a ring
// beside K (1 block per SM): these were the fastest at both benchmark shapes.
constexpr int kStages = 2;  // kernel 1: chunks of K and V in flight
constexpr int kRing = 3;    // kernel 2: tiles in flight
constexpr int kMaxHeadDim = 512;

struct ForwardParams {
  int seq = 0, qk_dim = 0, v_dim = 0, chunks = 0;
  const void *q = nullptr, *k = nullptr, *v = nullptr;
  const float *igate = nullptr, *fgate = nullptr;
  const float *C_initial = nullptr, *n_initial = nullptr, *m_initial = nullptr;
  void* h = nullptr;
  float *C_last = nullptr, *n_last = nullptr, *m_last = nullptr;
  void* chunk_C = nullptr;
  float *chunk_n = nullptr, *chunk_m = nullptr, *row_m = nullptr, *row_den = nullptr;
  float eps = 0.f, key_scale = 1.f;
};

// x's two elements (a packed pair of T) times (lo, hi), packed again.
template <typename T>
__device__ __forceinline__ unsigned scale_pair(unsigned x, float lo, float hi) {
  const T* e = reinterpret_cast<const T*>(&x);
  return pack2<T>(to_float(e[0]) * lo, to_float(e[1]) * hi);
}

// ---- kernel 1: the memory before every chunk ----

template <typename T>
__global__ void __launch_bounds__(kStateThreads) chunk_states_kernel(ForwardParams p) {
  const int v_tile_count = p.v_dim / 64;
  const int qk0 = (blockIdx.x / v_tile_count) * 64, v0 = (blockIdx.x % v_tile_count) * 64;
  const bool n_block = v0 == 0, m_block = blockIdx.x == 0;
  const int bh = blockIdx.y, tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int gid = lane / 4, tig = lane % 4;
  const std::size_t seq = p.seq;

  extern __shared__ __align__(16) unsigned char smem[];
  T* k_tiles = reinterpret_cast<T*>(smem);    // [kStages][L][kLd]: K[chunk rows, qk0 ..]
  T* v_tiles = k_tiles + kStages * kL * kLd;  // [kStages][L][kLd]: V[chunk rows, v0 ..]
  T* c_stage = v_tiles + kStages * kL * kLd;  // [L][kLd]: C_c on its way out
  float* w = reinterpret_cast<float*>(c_stage + kL * kLd);  // [L] key weights
  float *b = w + kL, *u = b + kL, *M = u + kL, *scalars = M + kL;

  const T* kg = static_cast<const T*>(p.k) + bh * seq * p.qk_dim + qk0;
  const T* vg = static_cast<const T*>(p.v) + bh * seq * p.v_dim + v0;
  auto load_chunk = [&](int c) {
    if (c >= p.chunks) {  // nothing left: an empty group keeps the wait counts uniform
      cp_async_commit();
      return;
    }
    T* ks = k_tiles + (c % kStages) * kL * kLd;
    T* vs = v_tiles + (c % kStages) * kL * kLd;
    for (int i = tid; i < kL * 8; i += kStateThreads) {
      const int r = i / 8, col = (i % 8) * 8;
      const std::size_t pos = static_cast<std::size_t>(c) * kL + r;
      const bool valid = pos < seq;
      const std::size_t row = valid ? pos : 0;
      cp_async_16(ks + r * kLd + col, kg + row * p.qk_dim + col, valid);
      cp_async_16(vs + r * kLd + col, vg + row * p.v_dim + col, valid);
    }
    cp_async_commit();
  };

  // The tile of C: rows qk0 + 16 warp + {gid, gid + 8}, columns v0 + 8 j + 2 tig + {0, 1}.
  const int row0 = qk0 + 16 * warp + gid;
  float acc[8][4];
#pragma unroll
  for (int j = 0; j < 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int row = row0 + (e / 2) * 8, col = v0 + 8 * j + 2 * tig + e % 2;
      acc[j][e] =
          p.C_initial ? p.C_initial[(bh * std::size_t(p.qk_dim) + row) * p.v_dim + col] : 0.f;
    }
  float n = n_block && tid < 64 && p.n_initial ? p.n_initial[bh * p.qk_dim + qk0 + tid] : 0.f;
  float m = p.m_initial ? p.m_initial[bh] : -INFINITY;

  T* chunk_C = static_cast<T*>(p.chunk_C);
  for (int c = 0; c < kStages - 1; ++c) load_chunk(c);
  for (int c = 0; c < p.chunks; ++c) {
    load_chunk(c + kStages - 1);
    // The memory before chunk c, staged for 16-byte stores (after the barrier below).
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        store_pair(c_stage + (16 * warp + gid + 8 * half) * kLd + 8 * j + 2 * tig, acc[j][2 * half],
                   acc[j][2 * half + 1]);
    if (n_block && tid < 64) p.chunk_n[(bh * std::size_t(p.chunks) + c) * p.qk_dim + qk0 + tid] = n;
    if (m_block && tid == 0) p.chunk_m[bh * std::size_t(p.chunks) + c] = m;

    if (warp == 0) {
      const int t0 = c * kL, valid = min(kL, p.seq - t0);
      const ChunkGateTotals tot =
          scan_chunk_gates(p.igate + bh * seq + t0, p.fgate + bh * seq + t0, valid, m, b, u, M);
      for (int t = lane; t < kL; t += 32) w[t] = __expf(u[t] - tot.M_last) * p.key_scale;
      if (lane == 0) {
        scalars[0] = __expf(m - tot.M_last);  // decay of the memory over the chunk
        scalars[1] = tot.g + tot.M_last;      // m_{c+1}
      }
    }
    cp_async_wait<kStages - 1>();
    __syncthreads();

    T* C_out = chunk_C + ((bh * std::size_t(p.chunks) + c) * p.qk_dim + qk0) * p.v_dim + v0;
    for (int i = tid; i < kL * 8; i += kStateThreads) {
      const int r = i / 8, col = (i % 8) * 8;
      *reinterpret_cast<uint4*>(C_out + std::size_t(r) * p.v_dim + col) =
          *reinterpret_cast<const uint4*>(c_stage + r * kLd + col);
    }

    const float decay = scalars[0];
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[j][e] *= decay;
    const T* ks = k_tiles + (c % kStages) * kL * kLd;
    const T* vs = v_tiles + (c % kStages) * kL * kLd;
#pragma unroll
    for (int kk = 0; kk < kL / 16; ++kk) {
      unsigned a[4];
      load_a_tile_trans(a, ks, kLd, 16 * warp, 16 * kk);  // A = K^T: rows qk, k = positions
      const int s = 16 * kk + 2 * tig;
      a[0] = scale_pair<T>(a[0], w[s], w[s + 1]);
      a[1] = scale_pair<T>(a[1], w[s], w[s + 1]);
      a[2] = scale_pair<T>(a[2], w[s + 8], w[s + 9]);
      a[3] = scale_pair<T>(a[3], w[s + 8], w[s + 9]);
#pragma unroll
      for (int pair = 0; pair < 4; ++pair) {
        unsigned bf[4];
        load_b_pair_trans(bf, vs, kLd, 16 * pair, 16 * kk);
        mma_16816<T>(acc[2 * pair], a, bf[0], bf[1]);
        mma_16816<T>(acc[2 * pair + 1], a, bf[2], bf[3]);
      }
    }
    if (n_block && tid < 64) {
      float add = 0.f;
#pragma unroll 8
      for (int s = 0; s < kL; ++s) add = fmaf(w[s], to_float(ks[s * kLd + tid]), add);
      n = fmaf(decay, n, add);
    }
    m = scalars[1];
    __syncthreads();
  }

  if (p.C_last) {
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = row0 + (e / 2) * 8, col = v0 + 8 * j + 2 * tig + e % 2;
        p.C_last[(bh * std::size_t(p.qk_dim) + row) * p.v_dim + col] = acc[j][e];
      }
  }
  if (p.n_last && n_block && tid < 64) p.n_last[bh * p.qk_dim + qk0 + tid] = n;
  if (p.m_last && m_block && tid == 0) p.m_last[bh] = m;
}

// ---- kernel 2: the outputs of one chunk ----

// acc[2][NT] (this warp's 32 x 8 NT tile) += A[rows, a_k0 .. a_k0 + 63] B[0 .. 63, cols]; A
// row-major with leading dimension lda, B [k][n] with ldb; the warp's rows 32 * (warp / 4),
// columns (warp % 4) * 8 NT.
template <typename T, int NT>
__device__ __forceinline__ void tile_product(float (&acc)[2][NT][4], const T* A, int lda, int a_k0,
                                             const T* B, int ldb) {
  const int warp = threadIdx.x / 32, r0 = 32 * (warp / 4), n0 = (warp % 4) * 8 * NT;
#pragma unroll
  for (int kk = 0; kk < kL / 16; ++kk) {
    unsigned a[2][4];
    load_a_tile(a[0], A, lda, r0, a_k0 + 16 * kk);
    load_a_tile(a[1], A, lda, r0 + 16, a_k0 + 16 * kk);
#pragma unroll
    for (int pair = 0; pair < NT / 2; ++pair) {
      unsigned bf[4];
      load_b_pair_trans(bf, B, ldb, n0 + 16 * pair, 16 * kk);
#pragma unroll
      for (int mt = 0; mt < 2; ++mt) {
        mma_16816<T>(acc[mt][2 * pair], a[mt], bf[0], bf[1]);
        mma_16816<T>(acc[mt][2 * pair + 1], a[mt], bf[2], bf[3]);
      }
    }
  }
}

// The ring reuses K's shared memory once S is done (two blocks per SM up to DHqk 384).
template <typename T, int VT>
std::size_t output_smem_bytes(int qk_dim) {
  const std::size_t k_elems = kL * (qk_dim + 8), ring_elems = kRing * kL * (VT + 8);
  const std::size_t tail = std::max(k_elems, ring_elems);
  return (kL * (qk_dim + 8) + kL * kLd + tail) * sizeof(T) + 10 * kL * sizeof(float);
}

template <typename T, int VT>
__global__ void __launch_bounds__(kOutThreads) chunk_outputs_kernel(ForwardParams p) {
  constexpr int NT = VT / 32;  // n-tiles of 8 per warp
  const int c = blockIdx.x, bh = blockIdx.y, tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int gid = lane / 4, tig = lane % 4;
  const int t0 = c * kL, valid = min(kL, p.seq - t0);
  const int ldq = p.qk_dim + 8, ldr = VT + 8;
  const std::size_t seq = p.seq;

  extern __shared__ __align__(16) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);  // [L][ldq]
  T* ps = qs + kL * ldq;               // [L][kLd]
  T* ks = ps + kL * kLd;               // [L][ldq]
  T* ring = ks;                        // [kRing][L][ldr], once S is done
  T* tail_end = ks + max(kL * ldq, kRing * kL * ldr);
  float* b = reinterpret_cast<float*>(tail_end);
  // row_part [4][L]: each column quarter's row sums of P, added in a fixed order (deterministic).
  float *u = b + kL, *M = u + kL, *row_part = M + kL, *qn = row_part + 4 * kL, *inter = qn + kL,
        *inv_norm = inter + kL;

  const T* qg = static_cast<const T*>(p.q) + (bh * seq + t0) * p.qk_dim;
  const T* kg = static_cast<const T*>(p.k) + (bh * seq + t0) * p.qk_dim;
  const T* vg = static_cast<const T*>(p.v) + (bh * seq + t0) * p.v_dim;
  const std::size_t chunk_index = bh * std::size_t(p.chunks) + c;
  const T* Cg = static_cast<const T*>(p.chunk_C) + chunk_index * p.qk_dim * p.v_dim;

  const int row_chunks = p.qk_dim / 8;
  for (int i = tid; i < kL * row_chunks; i += kOutThreads) {
    const int r = i / row_chunks, col = (i % row_chunks) * 8;
    const bool ok = r < valid;
    const std::size_t row = ok ? r : 0;
    cp_async_16(qs + r * ldq + col, qg + row * p.qk_dim + col, ok);
    cp_async_16(ks + r * ldq + col, kg + row * p.qk_dim + col, ok);
  }
  cp_async_commit();
  // The ring's tile sequence: per DHv tile, V's rows, then C_c's 64-row slabs.
  const int per_v_tile = 1 + p.qk_dim / 64, tiles = (p.v_dim / VT) * per_v_tile;
  auto load_tile = [&](int tau) {
    if (tau < tiles) {
      const int col0 = (tau / per_v_tile) * VT, slab = tau % per_v_tile;
      T* dst = ring + (tau % kRing) * kL * ldr;
      for (int i = tid; i < kL * VT / 8; i += kOutThreads) {
        const int r = i / (VT / 8), col = (i % (VT / 8)) * 8;
        if (slab == 0) {
          const bool ok = r < valid;
          cp_async_16(dst + r * ldr + col, vg + std::size_t(ok ? r : 0) * p.v_dim + col0 + col, ok);
        } else {
          cp_async_16(dst + r * ldr + col,
                      Cg + std::size_t((slab - 1) * 64 + r) * p.v_dim + col0 + col, true);
        }
      }
    }
    cp_async_commit();
  };
  const float m_c = p.chunk_m[chunk_index];
  if (warp == 0)
    scan_chunk_gates(p.igate + bh * seq + t0, p.fgate + bh * seq + t0, valid, m_c, b, u, M);
  cp_async_wait<0>();
  __syncthreads();

  {  // q_t . n_c, four threads per row
    const int row = tid / 4, part = tid % 4;
    const float* n_c = p.chunk_n + chunk_index * p.qk_dim;
    float dot = 0.f;
    for (int d = part * 2; d < p.qk_dim; d += 8)
      dot += to_float(qs[row * ldq + d]) * n_c[d] + to_float(qs[row * ldq + d + 1]) * n_c[d + 1];
    dot += __shfl_xor_sync(0xffffffffu, dot, 1);
    dot += __shfl_xor_sync(0xffffffffu, dot, 2);
    if (part == 0) qn[row] = dot;
  }

  {  // S = Q K^T (warp: rows 32 (warp / 4), columns 16 (warp % 4)), then P
    const int r0 = 32 * (warp / 4), n0 = 16 * (warp % 4);
    float s[2][2][4] = {};
    for (int kk = 0; kk < p.qk_dim / 16; ++kk) {
      unsigned a[2][4], bf[4];
      load_a_tile(a[0], qs, ldq, r0, 16 * kk);
      load_a_tile(a[1], qs, ldq, r0 + 16, 16 * kk);
      load_b_pair(bf, ks, ldq, n0, 16 * kk);
#pragma unroll
      for (int mt = 0; mt < 2; ++mt) {
        mma_16816<T>(s[mt][0], a[mt], bf[0], bf[1]);
        mma_16816<T>(s[mt][1], a[mt], bf[2], bf[3]);
      }
    }
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = r0 + 16 * mt + gid + 8 * half;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
          const int col = n0 + 8 * nt + 2 * tig;
          const float p0 =
              col <= row ? s[mt][nt][2 * half] * p.key_scale * __expf(u[col] - M[row]) : 0.f;
          const float p1 = col + 1 <= row
                               ? s[mt][nt][2 * half + 1] * p.key_scale * __expf(u[col + 1] - M[row])
                               : 0.f;
          sum += p0 + p1;
          store_pair(ps + row * kLd + col, p0, p1);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        if (tig == 0) row_part[(warp % 4) * kL + row] = sum;
      }
  }
  __syncthreads();  // K is free: the ring starts
  for (int tau = 0; tau < kRing - 1; ++tau) load_tile(tau);
  if (tid < kL) {  // the row scalars: inter-chunk weight, normaliser, stabiliser
    const int t = tid;
    const float weight = __expf(m_c - M[t]);
    const float row_sum =
        row_part[t] + row_part[kL + t] + row_part[2 * kL + t] + row_part[3 * kL + t];
    const float den = row_sum + weight * qn[t];
    const float m_t = b[t] + M[t];
    inter[t] = weight;
    inv_norm[t] = 1.f / (fmaxf(fabsf(den), __expf(-m_t)) + p.eps);
    if (p.row_m && t < valid) {
      p.row_m[bh * seq + t0 + t] = m_t;
      p.row_den[bh * seq + t0 + t] = den;
    }
  }

  T* hg = static_cast<T*>(p.h) + (bh * seq + t0) * p.v_dim;
  const int r0 = 32 * (warp / 4), n0 = (warp % 4) * 8 * NT;
  int tau = 0;
  for (int col0 = 0; col0 < p.v_dim; col0 += VT) {
    float intra[2][NT][4] = {}, cross[2][NT][4] = {};
    for (int slab = 0; slab < per_v_tile; ++slab, ++tau) {
      cp_async_wait<kRing - 2>();
      __syncthreads();
      load_tile(tau + kRing - 1);
      const T* tile = ring + (tau % kRing) * kL * ldr;
      if (slab == 0)
        tile_product<T, NT>(intra, ps, kLd, 0, tile, ldr);
      else
        tile_product<T, NT>(cross, qs, ldq, (slab - 1) * 64, tile, ldr);
    }
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = r0 + 16 * mt + gid + 8 * half;
        if (row >= valid) continue;
        const float weight = inter[row], inv = inv_norm[row];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          const int col = col0 + n0 + 8 * nt + 2 * tig;
          const float h0 = (intra[mt][nt][2 * half] + weight * cross[mt][nt][2 * half]) * inv;
          const float h1 =
              (intra[mt][nt][2 * half + 1] + weight * cross[mt][nt][2 * half + 1]) * inv;
          store_pair(hg + std::size_t(row) * p.v_dim + col, h0, h1);
        }
      }
  }
}

template <typename T, int VT>
cudaError_t launch_outputs(const ForwardParams& p, int heads_total, cudaStream_t stream) {
  const std::size_t smem = output_smem_bytes<T, VT>(p.qk_dim);
  cudaError_t err =
      cudaFuncSetAttribute(chunk_outputs_kernel<T, VT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(smem));
  if (err != cudaSuccess) return err;
  chunk_outputs_kernel<T, VT><<<dim3(p.chunks, heads_total), kOutThreads, smem, stream>>>(p);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_forward(const ChunkwiseForwardArgs& args, cudaStream_t stream) {
  const ChunkwiseShape& shape = args.shape;
  const int heads_total = shape.batch * shape.heads;
  ForwardParams p;
  p.seq = shape.seq;
  p.qk_dim = shape.qk_head_dim;
  p.v_dim = shape.v_head_dim;
  p.chunks = shape.num_chunks();
  p.q = args.q;
  p.k = args.k;
  p.v = args.v;
  p.igate = args.igate;
  p.fgate = args.fgate;
  p.C_initial = args.C_initial;
  p.n_initial = args.n_initial;
  p.m_initial = args.m_initial;
  p.h = args.h;
  p.C_last = args.C_last;
  p.n_last = args.n_last;
  p.m_last = args.m_last;
  p.eps = args.eps;
  p.key_scale = 1.f / std::sqrt(static_cast<float>(shape.qk_head_dim));

  // Without `save` the per-chunk memory lives in stream-ordered scratch.
  void* scratch = nullptr;
  if (args.save) {
    p.chunk_C = args.saved.chunk_C;
    p.chunk_n = args.saved.chunk_n;
    p.chunk_m = args.saved.chunk_m;
    p.row_m = args.saved.row_m;
    p.row_den = args.saved.row_den;
  } else {
    const std::size_t states = std::size_t(heads_total) * p.chunks;
    const std::size_t c_bytes = (states * p.qk_dim * p.v_dim * sizeof(T) + 255) / 256 * 256;
    const std::size_t n_floats = states * p.qk_dim;
    cudaError_t err =
        cudaMallocAsync(&scratch, c_bytes + (n_floats + states) * sizeof(float), stream);
    if (err != cudaSuccess) return err;
    p.chunk_C = scratch;
    p.chunk_n = reinterpret_cast<float*>(static_cast<unsigned char*>(scratch) + c_bytes);
    p.chunk_m = p.chunk_n + n_floats;
  }

  const std::size_t state_smem = (2 * kStages + 1) * kL * kLd * sizeof(T) + 5 * kL * sizeof(float);
  const dim3 state_grid((p.qk_dim / 64) * (p.v_dim / 64), heads_total);
  cudaError_t err =
      cudaFuncSetAttribute(chunk_states_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(state_smem));
  if (err == cudaSuccess) {
    chunk_states_kernel<T><<<state_grid, kStateThreads, state_smem, stream>>>(p);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess)
    err = p.v_dim % 128 == 0 ? launch_outputs<T, 128>(p, heads_total, stream)
                             : launch_outputs<T, 64>(p, heads_total, stream);
  if (scratch) {
    const cudaError_t freed = cudaFreeAsync(scratch, stream);
    if (err == cudaSuccess) err = freed;
  }
  return err;
}

bool head_dim_supported(int d) {
  return d >= 64 && d <= kMaxHeadDim && d % 64 == 0;
}

}  // namespace

bool chunkwise_forward_supports(const ChunkwiseShape& shape) {
  return head_dim_supported(shape.qk_head_dim) && head_dim_supported(shape.v_head_dim) &&
         shape.chunk_size == kL && shape.batch > 0 && shape.heads > 0 && shape.seq > 0;
}

int chunkwise_preferred_chunk_size(int /*qk_head_dim*/, int /*v_head_dim*/,
                                   ElementType /*element_type*/) {
  return kL;
}

cudaError_t chunkwise_forward(const ChunkwiseForwardArgs& args, cudaStream_t stream) {
  if (!chunkwise_forward_supports(args.shape)) return cudaErrorInvalidValue;
  return with_element_type(args.shape.element_type, [&](auto tag) -> cudaError_t {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>)
      return chunkwise_forward_float32(args, stream);
    else
      return launch_forward<T>(args, stream);
  });
}

}  // namespace xlstm::kernels::mlstm
