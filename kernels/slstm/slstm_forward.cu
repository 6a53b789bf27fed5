// Persistent sLSTM forward over a whole sequence (see slstm_common.cuh for the work split). Per
// step and hidden unit (xLSTM paper, eqs. 8-17 with the stabiliser m):
//   raw = wx_t + R y_{t-1} + b;  logf = logsigmoid(f~) + m_{t-1};  m_t = max(i~, logf)
//   (m_t = i~ on the first step from a zero normaliser);  i = min(exp(i~ - m_t), 1);
//   f = min(exp(logf - m_t), 1);  c_t = f c + i tanh(z~);  n_t = f n + i;  y_t = sigmoid(o~) c_t /
//   n_t
// The recurrent product accumulates in float32 from R held in shared memory as float32.
#include "slstm/slstm_common.cuh"

namespace xlstm::kernels::slstm {
namespace detail {
namespace {

struct ForwardParams : KernelDims {
  const void* wx;
  const float* r;
  const float* bias;
  const float* state0;
  const int* start_from_zero;
  void* y;
  float* final_state;
  float* saved_states;
  float* saved_gates;
  float* y_ring;
  unsigned* counters;
  float clipval;
};

// Global mode: where y_t (float32) is published, the saved states when training, else a two-slot
// ring (a slot is rewritten only after every block has passed the barrier that follows its last
// read).
__device__ __forceinline__ float* published_y(const ForwardParams& p, int t) {
  const std::size_t bh = static_cast<std::size_t>(p.batch) * p.hidden;
  if (p.saved_states) return p.saved_states + (t + 1) * 4 * bh;
  return p.y_ring + (t % 2) * bh;
}

// One (step, unit, batch row): raw gate pre-activations (i~, f~, z~, o~) in, the states c, n, m
// updated in place, y_t returned (clipped when asked); `gates` gets what the backward reads
// (i, f~, tanh z~, o). `first` is the paper's first step from a zero normaliser (m_t = i~).
__device__ __forceinline__ float step_forward(const ForwardParams& p, const float (&raw)[4],
                                              bool first, float& c, float& n, float& m,
                                              float (&gates)[4]) {
  const float logf = m + logsigmoid(raw[1]);
  const float m_new = first ? raw[0] : fmaxf(raw[0], logf);
  const float ig = fminf(__expf(raw[0] - m_new), 1.f), fg = fminf(__expf(logf - m_new), 1.f);
  const float z = tanhf(raw[2]), og = sigmoid(raw[3]);
  c = fg * c + ig * z;
  n = fg * n + ig;
  m = m_new;
  gates[0] = ig;
  gates[1] = raw[1];
  gates[2] = z;
  gates[3] = og;
  const float y = og * c / n;
  return p.clipval > 0.f ? fminf(fmaxf(y, -p.clipval), p.clipval) : y;
}

// The saved states and gates of step t (training; y itself only when `save_y`: in the global
// exchange the published y already is slot 0) and, after the last step, the final state.
__device__ __forceinline__ void save_step(const ForwardParams& p, int t, std::size_t idx, float y,
                                          float c, float n, float m, const float (&gates)[4],
                                          bool save_y) {
  const std::size_t bh = static_cast<std::size_t>(p.batch) * p.hidden;
  if (p.saved_states) {
    float* st = p.saved_states + (t + 1) * 4 * bh + idx;
    if (save_y) st[0] = y;
    st[bh] = c;
    st[2 * bh] = n;
    st[3 * bh] = m;
    float* gt = p.saved_gates + t * 4 * bh + idx;
#pragma unroll
    for (int g = 0; g < 4; ++g) gt[g * bh] = gates[g];
  }
  if (t == p.steps - 1) {
    p.final_state[idx] = y;
    p.final_state[bh + idx] = c;
    p.final_state[2 * bh + idx] = n;
    p.final_state[3 * bh + idx] = m;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) forward_kernel(ForwardParams p) {
  extern __shared__ float4 smem4[];
  const Split& sp = p.split;
  const BlockPlace bp = block_place(sp, p.num_heads, p.head_dim, p.batch);
  const int group = bp.group, head = bp.head, b0 = bp.b0, nb = bp.nb, u0 = bp.u0, nu = bp.nu;
  const int U = sp.units, BT = sp.batch_tile;
  const int bt4 = (BT + 3) / 4 * 4, ld = sp.ld, dh = p.head_dim, H = p.hidden;
  const std::size_t bh = static_cast<std::size_t>(p.batch) * H;
  float* rs = reinterpret_cast<float*>(smem4);  // [4U][ld]: rows (unit, gate)
  float* ys = rs + 4 * U * ld;                  // [BT4][ld]: y_{t-1} of the batch tile
  float* cs = ys + bt4 * ld;                    // [U][BT] cell states
  float* ns = cs + U * BT;
  float* ms = ns + U * BT;
  float* bs = ms + U * BT;  // [4][U] bias
  float* pub = bs + 4 * U;  // cluster mode: [2][BT][U] published y_t
  const int tid = threadIdx.x;

  const float* r_block = p.r + (static_cast<std::size_t>(head) * dh + u0) * 4 * dh;
  for (int i = tid; i < nu * dh; i += kThreads) {  // nu*4 rows of dh/4 float4 chunks
    const int row = i / (dh / 4), c = i % (dh / 4);
    *reinterpret_cast<float4*>(rs + row * ld + 4 * c) =
        reinterpret_cast<const float4*>(r_block + static_cast<std::size_t>(row) * dh)[c];
  }
  for (int i = tid; i < 4 * nu; i += kThreads)
    bs[(i / nu) * U + i % nu] = p.bias[(i / nu) * H + head * dh + u0 + i % nu];
  for (int i = tid; i < nu * nb; i += kThreads) {
    const int u = i / nb, bl = i % nb;
    const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
    cs[u * BT + bl] = p.state0[bh + idx];
    ns[u * BT + bl] = p.state0[2 * bh + idx];
    ms[u * BT + bl] = p.state0[3 * bh + idx];
  }
  stage_rows(ys, ld, p.state0 + static_cast<std::size_t>(b0) * H + head * dh, H, bt4, nb, dh);
  const bool zero_start = *p.start_from_zero != 0;
  const T* wx = static_cast<const T*>(p.wx);
  T* y_out = static_cast<T*>(p.y);

  // This thread's tile (unit u, batch rows bg*4..bg*4+3) and the rows whose update it finishes.
  const int ks = sp.split_k, lane_k = tid % ks, tile = tid / ks;
  const int u = tile % U, bg = tile / U;
  const bool valid = tile < sp.tiles && u < nu;
  bool mine[4];
#pragma unroll
  for (int bb = 0; bb < 4; ++bb) mine[bb] = valid && bb % ks == lane_k && bg * 4 + bb < nb;
  float wxv[4][4];  // [batch row][gate] input projections of the coming step
  const auto load_wx = [&](int t) {
#pragma unroll
    for (int bb = 0; bb < 4; ++bb) {
      const std::size_t o =
          (static_cast<std::size_t>(t) * p.batch + b0 + bg * 4 + bb) * 4 * H + head * dh + u0 + u;
#pragma unroll
      for (int g = 0; g < 4; ++g) wxv[bb][g] = mine[bb] ? to_float(wx[o + g * H]) : 0.f;
    }
  };
  load_wx(0);
  __syncthreads();  // ys, rs, states

  for (int t = 0; t < p.steps; ++t) {
    float acc[4][4] = {};  // [gate][batch row]
    if (valid) {
      const float* rrow = rs + u * 4 * ld;
      const float* yrow = ys + bg * 4 * ld;
      for (int c = lane_k; c < dh / 4; c += ks) {
        float4 rv[4], yv[4];
#pragma unroll
        for (int g = 0; g < 4; ++g) rv[g] = *reinterpret_cast<const float4*>(rrow + g * ld + 4 * c);
#pragma unroll
        for (int bb = 0; bb < 4; ++bb)
          yv[bb] = *reinterpret_cast<const float4*>(yrow + bb * ld + 4 * c);
#pragma unroll
        for (int g = 0; g < 4; ++g)
#pragma unroll
          for (int bb = 0; bb < 4; ++bb) acc[g][bb] = fma4(rv[g], yv[bb], acc[g][bb]);
      }
    }
    // Combine the KS lanes of a tile. With KS >= 4 the last two levels halve instead of doubling
    // up: lane_k & 3 ends with the four gate sums of batch row lane_k & 3 (the row it finishes).
    const int full_until = ks >= 4 ? 4 : 1;
    for (int off = ks / 2; off >= full_until; off /= 2)
#pragma unroll
      for (int g = 0; g < 4; ++g)
#pragma unroll
        for (int bb = 0; bb < 4; ++bb) acc[g][bb] += __shfl_xor_sync(0xffffffffu, acc[g][bb], off);
    if (ks >= 4) {
      const bool odd_pair = lane_k & 2, odd_row = lane_k & 1;
      float pair[4][2];  // rows {0,1} or {2,3}
#pragma unroll
      for (int g = 0; g < 4; ++g)
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          const float send = odd_pair ? acc[g][i] : acc[g][2 + i];
          pair[g][i] =
              (odd_pair ? acc[g][2 + i] : acc[g][i]) + __shfl_xor_sync(0xffffffffu, send, 2);
        }
#pragma unroll
      for (int g = 0; g < 4; ++g) {
        const float send = odd_row ? pair[g][0] : pair[g][1];
        const float sum =
            (odd_row ? pair[g][1] : pair[g][0]) + __shfl_xor_sync(0xffffffffu, send, 1);
#pragma unroll
        for (int bb = 0; bb < 4; ++bb) acc[g][bb] = sum;  // only row lane_k is read below
      }
    }
#pragma unroll
    for (int bb = 0; bb < 4; ++bb) {
      if (!mine[bb]) continue;
      const int bl = bg * 4 + bb, s = u * BT + bl;
      float raw[4], gates[4];
#pragma unroll
      for (int g = 0; g < 4; ++g) raw[g] = wxv[bb][g] + acc[g][bb] + bs[g * U + u];
      const float y = step_forward(p, raw, t == 0 && zero_start, cs[s], ns[s], ms[s], gates);
      const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
      y_out[t * bh + idx] = from_float<T>(y);
      if (sp.cluster)
        pub[(t % 2) * BT * U + bl * U + u] = y;
      else
        __stcg(published_y(p, t) + idx, y);
      save_step(p, t, idx, y, cs[s], ns[s], ms[s], gates, sp.cluster);
    }
    if (t + 1 == p.steps) break;
    // Arrive, load the next step's inputs while the others catch up, wait, stage y_t.
    if (sp.cluster) {
      cluster_arrive();
      load_wx(t + 1);
      cluster_wait();
      // y_t of unit k lives in the shared memory of block k / U of the cluster.
      for (int k = tid; k < dh; k += kThreads) {
        const float* src = cluster_peer(pub + (t % 2) * BT * U + k % U, k / U);
        for (int bl = 0; bl < bt4; ++bl) ys[bl * ld + k] = bl < nb ? src[bl * U] : 0.f;
      }
    } else {
      group_arrive(p.counters + group);
      load_wx(t + 1);
      group_wait(p.counters + group, static_cast<unsigned>(sp.slices * (t + 1)));
      stage_rows(ys, ld, published_y(p, t) + static_cast<std::size_t>(b0) * H + head * dh, H, bt4,
                 nb, dh);
    }
    __syncthreads();  // ys holds y_t
  }
  if (sp.cluster) {  // peers may still read this block's shared memory
    cluster_arrive();
    cluster_wait();
  }
}

// ---- tensor-core variant (bf16 / fp16 inputs) ---------------------------------------------------
// The same recurrence with the product R y_{t-1} on the tensor cores: mma.m16n8k16 with float32
// accumulation, R (rounded to the input dtype) held in registers as A fragments for the whole
// sequence, y_{t-1} (rounded to the input dtype) staged in shared memory as the B operand (one
// n-tile: up to 8 batch rows). Warp w owns m-tile w % M (16 gate rows) and k-part w / M; the
// partial products meet in shared memory, where one thread per (unit, batch row) applies the update
// with its states in registers. The exchange is global, or (inference on sm_90) through a
// thread-block cluster per group: the owner of y_t writes it, rounded, straight into the B operand
// buffer of every block of the cluster (two buffers, by step parity), and one cluster barrier per
// step replaces the global one and the staging of y_t from L2.
struct MmaShape {
  int m_tiles, k_parts, k_tiles_per_part;
};

inline MmaShape mma_shape(int units, int head_dim) {
  MmaShape m;
  m.m_tiles = units / 4;  // 4 gate rows per unit, 16 rows per tile
  m.k_parts = m.m_tiles > 0 ? std::max(1, kWarps / m.m_tiles) : 0;
  m.k_tiles_per_part = m.k_parts > 0 ? ceil_div(head_dim / 16, m.k_parts) : 0;
  return m;
}

inline bool mma_fits(const Plan& plan, int head_dim) {
  const MmaShape m = mma_shape(plan.units, head_dim);
  return head_dim % 16 == 0 && plan.units % 4 == 0 && m.m_tiles >= 1 && m.m_tiles <= kWarps &&
         plan.batch_tile <= 8 && m.k_tiles_per_part <= kMmaMaxKTiles;
}

// The B operand buffers (two in cluster mode) and the partial products.
inline std::size_t mma_smem_bytes(const Plan& plan, int head_dim) {
  const MmaShape m = mma_shape(plan.units, head_dim);
  return (plan.cluster ? 2 : 1) * 8 * (head_dim + 8) * 2 +
         sizeof(float) * m.k_parts * 4 * plan.units * 9;
}

// The cluster plan of the tensor-core kernel: batch tiles of up to 8 rows, the fewest blocks per
// group (a power of two up to 16) whose units fit the kernel's warps (slices == 0: none fits).
inline Plan mma_cluster_plan(const Sizes& s) {
  Plan plan;
  plan.cluster = true;
  plan.batch_tile = std::min(s.batch, 8);
  plan.groups = s.num_heads * ceil_div(s.batch, plan.batch_tile);
  for (int slices = 1; slices <= kMaxClusterBlocks; slices *= 2) {
    plan.units = round_up(ceil_div(s.head_dim, slices), 4);
    plan.slices = ceil_div(s.head_dim, plan.units);
    if (plan.slices == slices && mma_fits(plan, s.head_dim)) {
      plan.tiles = plan.units * ceil_div(plan.batch_tile, kBatchGroup);
      plan.smem_bytes = mma_smem_bytes(plan, s.head_dim);
      return plan;
    }
  }
  plan.slices = 0;
  return plan;
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) forward_mma_kernel(ForwardParams p) {
  extern __shared__ float4 smem4[];
  const Split& sp = p.split;
  const BlockPlace bp = block_place(sp, p.num_heads, p.head_dim, p.batch);
  const int group = bp.group, head = bp.head, b0 = bp.b0, nb = bp.nb, u0 = bp.u0, nu = bp.nu;
  const int U = sp.units;
  const int dh = p.head_dim, H = p.hidden, ldy = dh + 8;
  const std::size_t bh = static_cast<std::size_t>(p.batch) * H;
  // [buffers][8][dh + 8]: y_{t-1}, batch rows >= nb zero (cluster mode: two, by step parity)
  T* yh = reinterpret_cast<T*>(smem4);
  float* cbuf = reinterpret_cast<float*>(yh + (sp.cluster ? 2 : 1) * 8 * ldy);  // [k_parts][4U][9]
  const int tid = threadIdx.x, warp = tid / 32;
  const int m_tiles = U / 4, k_parts = max(1, kWarps / m_tiles);
  const int k_per_part = (dh / 16 + k_parts - 1) / k_parts;
  const int mt = warp % m_tiles, kp = warp / m_tiles;
  const bool mma_warp = kp < k_parts;
  const int kt0 = kp * k_per_part, nkt = max(0, min(k_per_part, dh / 16 - kt0));

  // A fragments: rows (unit, gate) = block row mt*16 + {gid, gid+8}, columns k, from float32 R.
  unsigned a[kMmaMaxKTiles][4];
  load_a_fragments<T>(a, p.r + (static_cast<std::size_t>(head) * dh + u0) * 4 * dh, dh, mt * 16,
                      4 * nu, kt0, nkt);

  // One thread per (unit, batch row): states and bias in registers.
  const int u = tid / max(nb, 1), bl = tid % max(nb, 1);
  const bool owner = tid < nu * nb;
  const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
  float c = 0.f, n = 0.f, m = 0.f, bias[4] = {0.f, 0.f, 0.f, 0.f}, wxv[4] = {0.f, 0.f, 0.f, 0.f};
  const T* wx = static_cast<const T*>(p.wx);
  T* y_out = static_cast<T*>(p.y);
  const auto load_wx = [&](int t) {
    const std::size_t o =
        (static_cast<std::size_t>(t) * p.batch + b0 + bl) * 4 * H + head * dh + u0 + u;
#pragma unroll
    for (int g = 0; g < 4; ++g) wxv[g] = owner ? to_float(wx[o + g * H]) : 0.f;
  };
  if (owner) {
    c = p.state0[bh + idx];
    n = p.state0[2 * bh + idx];
    m = p.state0[3 * bh + idx];
#pragma unroll
    for (int g = 0; g < 4; ++g) bias[g] = p.bias[g * H + head * dh + u0 + u];
  }
  load_wx(0);
  const auto stage = [&](const float* src) {  // 8 rows of dh floats (row stride H) -> yh
    for (int i = tid; i < 8 * dh / 2; i += kThreads) {
      const int row = i / (dh / 2), k = 2 * (i % (dh / 2));
      float2 v = make_float2(0.f, 0.f);
      if (row < nb)
        v = __ldcg(reinterpret_cast<const float2*>(src + row * static_cast<std::size_t>(H) + k));
      *reinterpret_cast<unsigned*>(yh + row * ldy + k) = pack2<T>(v.x, v.y);
    }
  };
  stage(p.state0 + static_cast<std::size_t>(b0) * H + head * dh);
  const bool zero_start = *p.start_from_zero != 0;
  __syncthreads();

  if (sp.cluster) {  // the peers write into buffer 1 once every block has started
    for (int i = tid; i < 8 * ldy; i += kThreads) yh[8 * ldy + i] = from_float<T>(0.f);
    cluster_arrive();
    cluster_wait();
  }
  for (int t = 0; t < p.steps; ++t) {
    const T* y_prev = yh + (sp.cluster ? t % 2 : 0) * 8 * ldy;
    if (mma_warp) mma_rows<T>(a, y_prev, ldy, kt0, nkt, cbuf + (kp * 4 * U + mt * 16) * 9);
    __syncthreads();
    if (owner) {
      float raw[4];
#pragma unroll
      for (int g = 0; g < 4; ++g) {
        float r = wxv[g] + bias[g];
        for (int q = 0; q < k_parts; ++q) r += cbuf[(q * 4 * U + u * 4 + g) * 9 + bl];
        raw[g] = r;
      }
      float gates[4];
      const float y = step_forward(p, raw, t == 0 && zero_start, c, n, m, gates);
      y_out[t * bh + idx] = from_float<T>(y);
      if (sp.cluster) {
        // y_t into the next buffer of every block of the group (this block included).
        T* y_next = yh + ((t + 1) % 2) * 8 * ldy + bl * ldy + u0 + u;
        if (t + 1 < p.steps)
          for (int rank = 0; rank < sp.slices; ++rank)
            *cluster_peer(y_next, rank) = from_float<T>(y);
      } else {
        __stcg(published_y(p, t) + idx, y);
      }
      save_step(p, t, idx, y, c, n, m, gates, false);
    }
    if (t + 1 == p.steps) break;
    if (sp.cluster) {
      cluster_arrive();
      load_wx(t + 1);
      cluster_wait();  // the next buffer holds y_t; cbuf is free again
      continue;
    }
    group_arrive(p.counters + group);
    load_wx(t + 1);
    group_wait(p.counters + group, static_cast<unsigned>(sp.slices * (t + 1)));
    stage(published_y(p, t) + static_cast<std::size_t>(b0) * H + head * dh);
    __syncthreads();  // yh holds y_t; cbuf free again
  }
}

}  // namespace
}  // namespace detail

std::size_t forward_workspace_bytes(const Sizes& sizes) {
  const std::size_t ring = 2 * sizeof(float) * sizes.batch * sizes.num_heads * sizes.head_dim;
  const std::size_t counters = sizeof(unsigned) * sizes.num_heads * sizes.batch;
  return (ring + 255) / 256 * 256 + counters;
}

cudaError_t forward(const ForwardArgs& a, void* workspace, cudaStream_t stream) {
  using namespace detail;
  DeviceLimits lim;
  cudaError_t err = prepare_launch(a.sizes, &lim);
  if (err != cudaSuccess) return err;
  const Sizes& s = a.sizes;
  ForwardParams p{};
  static_cast<KernelDims&>(p) = kernel_dims(s);
  p.wx = a.wx;
  p.r = a.r_forward;
  p.bias = a.bias;
  p.state0 = a.state0;
  p.start_from_zero = a.start_from_zero;
  p.y = a.y;
  p.final_state = a.final_state;
  p.saved_states = a.saved_states;
  p.saved_gates = a.saved_gates;
  p.clipval = a.forward_clipval;
  const std::size_t ring = 2 * sizeof(float) * s.batch * p.hidden;
  p.y_ring = static_cast<float*>(workspace);
  p.counters =
      reinterpret_cast<unsigned*>(static_cast<char*>(workspace) + (ring + 255) / 256 * 256);
  err = reset_counters(p.counters, s, stream);
  if (err != cudaSuccess) return err;
  return with_element_type(a.element_type, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (!std::is_same_v<T, float>) {
      if (a.use_tensor_cores && !a.use_cluster && a.cluster_for_inference && !a.saved_states &&
          lim.major >= 9) {
        const Plan plan = mma_cluster_plan(s);
        if (plan.slices > 8 &&
            (err = cudaFuncSetAttribute(forward_mma_kernel<T>,
                                        cudaFuncAttributeNonPortableClusterSizeAllowed, 1)) !=
                cudaSuccess)
          return err;
        // (the global launches set the kernel's dynamic shared memory limit to their own size)
        if (plan.slices != 0 &&
            (err = cudaFuncSetAttribute(forward_mma_kernel<T>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(plan.smem_bytes))) != cudaSuccess)
          return err;
        if (plan.slices != 0 &&
            clusters_at_once(forward_mma_kernel<T>, kThreads, plan.slices, plan.smem_bytes) >= 1)
          return launch_clusters(forward_mma_kernel<T>, p, plan, stream);
      }
      if (a.use_tensor_cores && !a.use_cluster) {
        Plan plan = global_plan(Direction::kForward, s, lim);
        if (plan.slices != 0 && plan.units % 4 != 0) {  // whole m-tiles: 4 units = 16 gate rows
          plan.units = round_up(plan.units, 4);
          plan.slices = ceil_div(s.head_dim, plan.units);
        }
        if (plan.slices != 0 && mma_fits(plan, s.head_dim)) {
          plan.smem_bytes = mma_smem_bytes(plan, s.head_dim);
          return launch_waves(forward_mma_kernel<T>, p, plan, lim, stream);
        }
      }
    }
    return launch(forward_kernel<T>, p, Direction::kForward, s, lim, a.use_cluster, stream);
  });
}

std::string check_supported(const Sizes& sizes) {
  using namespace detail;
  std::string why = check_sizes(sizes);
  if (!why.empty()) return why;
  DeviceLimits lim;
  if (device_limits(&lim) != cudaSuccess) return "no CUDA device";
  for (Direction dir : {Direction::kForward, Direction::kBackward})
    if (global_plan(dir, sizes, lim).slices == 0)
      return "head_dim " + std::to_string(sizes.head_dim) +
             " is too large: its tiles do not fit in shared memory (" +
             std::to_string(lim.smem_optin) +
             " bytes per block) with all blocks of a head resident";
  return {};
}

}  // namespace xlstm::kernels::slstm
