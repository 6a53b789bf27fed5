// Persistent sLSTM backward over a whole sequence, from the last step to the first (same work split
// as the forward, with the columns of R of a block's units in shared memory). As in the official
// kernel, the stabiliser m is treated as a constant (it cancels in y = o c / n) and the gradient
// that reaches y_{t-1} through R y_{t-1} is R^T dg_t, optionally cut or clipped (not for the
// initial state). Per step and unit, with dy, dc, dn the totals reaching y_t, c_t, n_t:
//   dc += dy o / n_t;  dn -= dy y_t / n_t;  dg_i = i (z dc + dn);  dg_f = f (dc c_{t-1} + dn
//   n_{t-1}) (1 - sigmoid(f~));  dg_z = i dc (1 - z^2);  dg_o = (1 - o) y_t dy;  dc_{t-1} = f dc;
//   dn_{t-1} = f dn
#include "slstm/slstm_common.cuh"

namespace xlstm::kernels::slstm {
namespace detail {
namespace {

struct BackwardParams : KernelDims {
  const float* r;
  const float* states;
  const float* gates;
  const void* dy;
  const float* dfinal;
  float* dg;
  float* dstate0;
  unsigned* counters;
  void* dwx;       // tensor-core kernel: [S, B, 4H] in the input dtype
  void* dg_heads;  // tensor-core kernel: [NH, S*B, 4DH], also the exchange between blocks
  int cut;
  float clipval;
};

// What the update of one (step, unit, batch row) reads besides the carried dc, dn.
struct StepInputs {
  float dy, ig, fraw, z, og, c_prev, n_prev, m_prev, y, n, m;
};

template <typename T>
__device__ __forceinline__ StepInputs load_step_inputs(const BackwardParams& p, int t,
                                                       std::size_t idx) {
  const std::size_t bh = static_cast<std::size_t>(p.batch) * p.hidden;
  const float* gt = p.gates + t * 4 * bh + idx;
  const float* prev = p.states + t * 4 * bh + idx;
  const float* next = prev + 4 * bh;
  return {to_float(static_cast<const T*>(p.dy)[t * bh + idx]),
          gt[0],
          gt[bh],
          gt[2 * bh],
          gt[3 * bh],
          prev[bh],
          prev[2 * bh],
          prev[3 * bh],
          next[0],
          next[2 * bh],
          next[3 * bh]};
}

// One (step, unit, batch row): `dy_rec` is (R^T dg_{t+1}) of this unit and row; dc, dn carry the
// gradients of c_t, n_t in and those of c_{t-1}, n_{t-1} out; dg gets the four gate gradients.
__device__ __forceinline__ void step_backward(const BackwardParams& p, const StepInputs& x, int t,
                                              std::size_t idx, float dy_rec, float& dc, float& dn,
                                              float (&dg)[4]) {
  if (p.clipval > 0.f) dy_rec = fminf(fmaxf(dy_rec, -p.clipval), p.clipval);
  float dy = x.dy + dy_rec;
  if (t == p.steps - 1) dy += p.dfinal[idx];
  const float fg = fminf(__expf(logsigmoid(x.fraw) + x.m_prev - x.m), 1.f);
  const float dyn = dy / x.n;
  const float dct = dc + dyn * x.og, dnt = dn - dyn * x.y;
  dg[0] = x.ig * (x.z * dct + dnt);
  dg[1] = fg * (dct * x.c_prev + dnt * x.n_prev) * (1.f - sigmoid(x.fraw));
  dg[2] = dct * x.ig * (1.f - x.z * x.z);
  dg[3] = (1.f - x.og) * x.y * dy;
  dc = fg * dct;
  dn = fg * dnt;
}

// The gradient of the initial state (y through R y_0 unless cut; m is a stabiliser: zero).
__device__ __forceinline__ void write_dstate0(const BackwardParams& p, std::size_t idx, float dy0,
                                              float dc, float dn) {
  const std::size_t bh = static_cast<std::size_t>(p.batch) * p.hidden;
  p.dstate0[idx] = dy0;
  p.dstate0[bh + idx] = dc;
  p.dstate0[2 * bh + idx] = dn;
  p.dstate0[3 * bh + idx] = 0.f;
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) backward_kernel(BackwardParams p) {
  extern __shared__ float4 smem4[];
  const Split& sp = p.split;
  const BlockPlace bp = block_place(sp, p.num_heads, p.head_dim, p.batch);
  const int group = bp.group, head = bp.head, b0 = bp.b0, nb = bp.nb, u0 = bp.u0, nu = bp.nu;
  const int U = sp.units, BT = sp.batch_tile;
  const int bt4 = (BT + 3) / 4 * 4, ld = sp.ld, dh = p.head_dim, H = p.hidden;
  const std::size_t bh = static_cast<std::size_t>(p.batch) * H;
  float* rs = reinterpret_cast<float*>(smem4);  // [U][ld]: column u of R, as (gate, out)
  float* gs = rs + U * ld;                      // [BT4][ld]: dg_{t+1} of the batch tile
  float* dcs = gs + bt4 * ld;                   // [U][BT] carried dc
  float* dns = dcs + U * BT;                    // [U][BT] carried dn
  float* pub = dns + U * BT;                    // cluster mode: [2][BT][4][U] published dg_t
  const int tid = threadIdx.x;

  const float* r_block = p.r + (static_cast<std::size_t>(head) * dh + u0) * 4 * dh;
  for (int i = tid; i < nu * dh; i += kThreads) {  // nu rows of dh float4 chunks
    const int row = i / dh, c = i % dh;
    *reinterpret_cast<float4*>(rs + row * ld + 4 * c) =
        reinterpret_cast<const float4*>(r_block + static_cast<std::size_t>(row) * 4 * dh)[c];
  }
  for (int i = tid; i < nu * nb; i += kThreads) {
    const int u = i / nb, bl = i % nb;
    const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
    dcs[u * BT + bl] = p.dfinal[bh + idx];
    dns[u * BT + bl] = p.dfinal[2 * bh + idx];
  }

  const int ks = sp.split_k, lane_k = tid % ks, tile = tid / ks;
  const int u = tile % U, bg = tile / U;
  const bool valid = tile < sp.tiles && u < nu;
  bool mine[4];
#pragma unroll
  for (int bb = 0; bb < 4; ++bb) mine[bb] = valid && bb % ks == lane_k && bg * 4 + bb < nb;
  StepInputs in[4];
  const auto load_inputs = [&](int t) {
#pragma unroll
    for (int bb = 0; bb < 4; ++bb)
      if (mine[bb])
        in[bb] = load_step_inputs<T>(
            p, t, static_cast<std::size_t>(b0 + bg * 4 + bb) * H + head * dh + u0 + u);
  };
  load_inputs(p.steps - 1);
  __syncthreads();

  // t = -1 is the pass that only forms the gradient of the initial state.
  for (int t = p.steps - 1; t >= -1; --t) {
    const bool recurrent = !p.cut && t < p.steps - 1;  // gs holds dg_{t+1}
    float acc[4] = {};                                 // (R^T dg_{t+1}) for the 4 batch rows
    if (valid && recurrent) {
      const float* rrow = rs + u * ld;
      const float* grow = gs + bg * 4 * ld;
      for (int c = lane_k; c < dh; c += ks) {
        const float4 rv = *reinterpret_cast<const float4*>(rrow + 4 * c);
#pragma unroll
        for (int bb = 0; bb < 4; ++bb)
          acc[bb] = fma4(rv, *reinterpret_cast<const float4*>(grow + bb * ld + 4 * c), acc[bb]);
      }
    }
    if (recurrent)
      for (int off = ks / 2; off > 0; off /= 2)
#pragma unroll
        for (int bb = 0; bb < 4; ++bb) acc[bb] += __shfl_xor_sync(0xffffffffu, acc[bb], off);
#pragma unroll
    for (int bb = 0; bb < 4; ++bb) {
      if (!mine[bb]) continue;
      const int bl = bg * 4 + bb, s = u * BT + bl;
      const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
      if (t < 0) {
        write_dstate0(p, idx, acc[bb], dcs[s], dns[s]);
        continue;
      }
      float dg[4];
      step_backward(p, in[bb], t, idx, acc[bb], dcs[s], dns[s], dg);
      float* dgt =
          p.dg + (static_cast<std::size_t>(t) * p.batch + b0 + bl) * 4 * H + head * dh + u0 + u;
#pragma unroll
      for (int g = 0; g < 4; ++g) {
        __stcg(dgt + g * H, dg[g]);
        if (sp.cluster) pub[(t % 2) * BT * 4 * U + (bl * 4 + g) * U + u] = dg[g];
      }
    }
    if (t < 0) continue;
    if (p.cut) {  // no block needs another's dg
      if (t > 0) load_inputs(t - 1);
      continue;
    }
    // Arrive, load the next step's inputs while the others catch up, wait, stage dg_t.
    if (sp.cluster) {
      cluster_arrive();
      if (t > 0) load_inputs(t - 1);
      cluster_wait();
      // dg_t of unit k lives in the shared memory of block k / U of the cluster.
      for (int r = tid; r < 4 * dh; r += kThreads) {
        const int g = r / dh, k = r % dh;
        const float* src = cluster_peer(pub + (t % 2) * BT * 4 * U + g * U + k % U, k / U);
        for (int bl = 0; bl < bt4; ++bl) gs[bl * ld + r] = bl < nb ? src[bl * 4 * U] : 0.f;
      }
    } else {
      group_arrive(p.counters + group);
      if (t > 0) load_inputs(t - 1);
      group_wait(p.counters + group, static_cast<unsigned>(sp.slices * (p.steps - t)));
      // dg_t rows of this head: 4 gate segments of dh floats per batch row, one L2 round trip.
      const float* src = p.dg + (static_cast<std::size_t>(t) * p.batch + b0) * 4 * H + head * dh;
      const int chunks = dh / 4;
      for (int i = tid; i < bt4 * 4 * chunks; i += kThreads) {
        const int bl = i / (4 * chunks), g = i / chunks % 4, c = i % chunks;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (bl < nb)
          v = __ldcg(
              reinterpret_cast<const float4*>(src + bl * 4 * static_cast<std::size_t>(H) + g * H) +
              c);
        *reinterpret_cast<float4*>(gs + bl * ld + g * dh + 4 * c) = v;
      }
    }
    __syncthreads();  // gs holds dg_t
  }
  if (sp.cluster) {  // peers may still read this block's shared memory
    cluster_arrive();
    cluster_wait();
  }
}

// ---- tensor-core variant (bf16 / fp16 inputs) ---------------------------------------------------
// The product R^T dg_{t+1} on the tensor cores (mma.m16n8k16, float32 accumulation): the block's
// columns of R (rows of R^T, one per unit; rounded to the input dtype) are A fragments in
// registers for the whole sequence, dg_{t+1} of the batch tile (<= 8 rows) is the B operand in
// shared memory. Warp w owns m-tile w % M (16 units) and k-part w / M of the 4*DH reduction; the
// partial products meet in shared memory, where one thread per (unit, batch row) applies the step
// with dc, dn in registers. dg goes out in the input dtype twice: as dwx and head-major
// (dg_heads: a batch row's 4*DH values of a head are contiguous), which is also what the blocks
// of a group read back (one contiguous row per batch row). Global exchange only.
struct MmaPlan {
  Plan plan;
  int m_tiles = 0, k_parts = 0, k_tiles_per_part = 0;
};

inline MmaPlan backward_mma_plan(const Sizes& s, const DeviceLimits& lim) {
  MmaPlan m;
  const int k_tiles = s.head_dim / 4;  // 4*DH / 16
  const int min_k_parts = ceil_div(k_tiles, kMmaMaxKTiles);
  if (min_k_parts > kWarps) return m;  // head_dim > 512
  Plan& p = m.plan;
  p.batch_tile = std::min(s.batch, 8);  // one n-tile
  p.groups = s.num_heads * ceil_div(s.batch, p.batch_tile);
  // As many blocks per group as fill the device, within one owner thread per (unit, row) and the
  // m-tiles that leave every m-tile its k-parts.
  const int max_units = std::min(16 * (kWarps / min_k_parts), kThreads / p.batch_tile);
  p.units = std::min(max_units, ceil_div(s.head_dim, std::max(1, lim.sms / p.groups)));
  p.slices = ceil_div(s.head_dim, p.units);
  p.units = ceil_div(s.head_dim, p.slices);  // balanced
  m.m_tiles = ceil_div(p.units, 16);
  m.k_parts = kWarps / m.m_tiles;
  m.k_tiles_per_part = ceil_div(k_tiles, m.k_parts);
  p.smem_bytes = 8 * (4 * s.head_dim + 8) * 2 + sizeof(float) * m.k_parts * m.m_tiles * 16 * 9;
  return m;
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) backward_mma_kernel(BackwardParams p) {
  extern __shared__ float4 smem4[];
  const Split& sp = p.split;
  const BlockPlace bp = block_place(sp, p.num_heads, p.head_dim, p.batch);
  const int group = bp.group, head = bp.head, b0 = bp.b0, nb = bp.nb, u0 = bp.u0, nu = bp.nu;
  const int U = sp.units;
  const int dh = p.head_dim, H = p.hidden, K = 4 * dh, ldb = K + 8;
  T* gs = reinterpret_cast<T*>(smem4);  // [8][4DH + 8]: dg_{t+1}, batch rows >= nb zero
  float* cbuf = reinterpret_cast<float*>(gs + 8 * ldb);  // [k_parts][16 m_tiles][9] partials
  const int tid = threadIdx.x, warp = tid / 32;
  const int m_tiles = (U + 15) / 16, k_parts = kWarps / m_tiles;
  const int k_per_part = (K / 16 + k_parts - 1) / k_parts;
  const int mt = warp % m_tiles, kp = warp / m_tiles, rows = 16 * m_tiles;
  const bool mma_warp = kp < k_parts;
  const int kt0 = kp * k_per_part, nkt = max(0, min(k_per_part, K / 16 - kt0));

  unsigned a[kMmaMaxKTiles][4];  // rows: units u0 + mt*16 + {gid, gid+8}; columns: (gate, out)
  load_a_fragments<T>(a, p.r + (static_cast<std::size_t>(head) * dh + u0) * K, K, mt * 16, nu, kt0,
                      nkt);
  for (int i = tid; i < 8 * ldb / 2; i += kThreads) reinterpret_cast<unsigned*>(gs)[i] = 0u;

  // One thread per (unit, batch row), units fastest (coalesced loads of the saved tensors).
  const int u = tid % nu, bl = tid / nu;
  const bool owner = tid < nu * nb;
  const std::size_t bh = static_cast<std::size_t>(p.batch) * H;
  const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
  float dc = 0.f, dn = 0.f;
  StepInputs in{};
  if (owner) {
    dc = p.dfinal[bh + idx];
    dn = p.dfinal[2 * bh + idx];
    in = load_step_inputs<T>(p, p.steps - 1, idx);
  }
  const std::size_t G = 4 * static_cast<std::size_t>(H),
                    N = static_cast<std::size_t>(p.steps) * p.batch;
  T* dwx = static_cast<T*>(p.dwx);
  T* dg_heads = static_cast<T*>(p.dg_heads) + head * N * K;  // this head's [S*B][4DH]
  __syncthreads();

  // t = -1 is the pass that only forms the gradient of the initial state.
  for (int t = p.steps - 1; t >= -1; --t) {
    const bool recurrent = !p.cut && t < p.steps - 1;  // gs holds dg_{t+1}
    if (recurrent && mma_warp) mma_rows<T>(a, gs, ldb, kt0, nkt, cbuf + (kp * rows + mt * 16) * 9);
    __syncthreads();
    if (owner) {
      float acc = 0.f;
      if (recurrent)
        for (int q = 0; q < k_parts; ++q) acc += cbuf[(q * rows + u) * 9 + bl];
      if (t < 0) {
        write_dstate0(p, idx, acc, dc, dn);
      } else {
        float dg[4];
        step_backward(p, in, t, idx, acc, dc, dn, dg);
        const std::size_t row = static_cast<std::size_t>(t) * p.batch + b0 + bl;
        T* out = dwx + row * G + head * dh + u0 + u;
        T* out_head = dg_heads + row * K + u0 + u;
#pragma unroll
        for (int g = 0; g < 4; ++g) {
          const T v = from_float<T>(dg[g]);
          out[g * H] = v;
          out_head[g * dh] = v;
        }
      }
    }
    if (t < 0) break;
    if (p.cut) {  // no block needs another's dg
      if (owner && t > 0) in = load_step_inputs<T>(p, t - 1, idx);
      continue;
    }
    // Arrive, load the next step's inputs while the others catch up, wait, stage dg_t.
    group_arrive(p.counters + group);
    if (owner && t > 0) in = load_step_inputs<T>(p, t - 1, idx);
    group_wait(p.counters + group, static_cast<unsigned>(sp.slices * (p.steps - t)));
    const T* src = dg_heads + (static_cast<std::size_t>(t) * p.batch + b0) * K;
    const int chunks = K / 8;  // 16-byte chunks of a row
    for (int i = tid; i < nb * chunks; i += kThreads) {
      const int r = i / chunks, c = i % chunks;
      *reinterpret_cast<uint4*>(gs + r * ldb + 8 * c) =
          __ldcg(reinterpret_cast<const uint4*>(src + r * static_cast<std::size_t>(K)) + c);
    }
    __syncthreads();  // gs holds dg_t; cbuf free again
  }
}

}  // namespace
}  // namespace detail

std::size_t backward_workspace_bytes(const Sizes& sizes) {
  return sizeof(unsigned) * sizes.num_heads * sizes.batch;
}

bool backward_uses_tensor_cores(const BackwardArgs& a) {
  using namespace detail;
  DeviceLimits lim;
  return a.element_type != ElementType::kFloat32 && a.use_tensor_cores && !a.use_cluster &&
         check_sizes(a.sizes).empty() && device_limits(&lim) == cudaSuccess &&
         backward_mma_plan(a.sizes, lim).plan.slices != 0;
}

cudaError_t backward(const BackwardArgs& a, void* workspace, cudaStream_t stream) {
  using namespace detail;
  DeviceLimits lim;
  cudaError_t err = prepare_launch(a.sizes, &lim);
  if (err != cudaSuccess) return err;
  const Sizes& s = a.sizes;
  BackwardParams p{};
  static_cast<KernelDims&>(p) = kernel_dims(s);
  p.r = a.r_backward;
  p.states = a.saved_states;
  p.gates = a.saved_gates;
  p.dy = a.dy;
  p.dfinal = a.dfinal_state;
  p.dg = a.dg;
  p.dstate0 = a.dstate0;
  p.counters = static_cast<unsigned*>(workspace);
  p.cut = a.gradient_recurrent_cut ? 1 : 0;
  p.clipval = a.gradient_recurrent_clipval;
  p.dwx = a.dwx;
  p.dg_heads = a.dg_heads;
  err = reset_counters(p.counters, s, stream);
  if (err != cudaSuccess) return err;
  const bool tensor_cores = backward_uses_tensor_cores(a);
  return with_element_type(a.element_type, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (!std::is_same_v<T, float>)
      if (tensor_cores)
        return launch_waves(backward_mma_kernel<T>, p, backward_mma_plan(s, lim).plan, lim, stream);
    return launch(backward_kernel<T>, p, Direction::kBackward, s, lim, a.use_cluster, stream);
  });
}

}  // namespace xlstm::kernels::slstm
