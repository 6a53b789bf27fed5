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

struct ForwardParams {
  Split split;
  int steps, batch, num_heads, head_dim, hidden;
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

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) forward_kernel(ForwardParams p) {
  extern __shared__ float4 smem4[];
  const Split& sp = p.split;
  const int group = sp.group0 + blockIdx.x / sp.slices, slice = blockIdx.x % sp.slices;
  const int head = group % p.num_heads, b0 = (group / p.num_heads) * sp.batch_tile;
  const int U = sp.units, BT = sp.batch_tile, u0 = slice * U, nu = min(U, p.head_dim - u0);
  const int nb = min(BT, p.batch - b0);
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
      const float iraw = wxv[bb][0] + acc[0][bb] + bs[u];
      const float fraw = wxv[bb][1] + acc[1][bb] + bs[U + u];
      const float zraw = wxv[bb][2] + acc[2][bb] + bs[2 * U + u];
      const float oraw = wxv[bb][3] + acc[3][bb] + bs[3 * U + u];
      const float logf = ms[s] + logsigmoid(fraw);
      const float m = (t == 0 && zero_start) ? iraw : fmaxf(iraw, logf);
      const float ig = fminf(__expf(iraw - m), 1.f), fg = fminf(__expf(logf - m), 1.f);
      const float z = tanhf(zraw), og = sigmoid(oraw);
      const float c = fg * cs[s] + ig * z, n = fg * ns[s] + ig;
      float y = og * c / n;
      if (p.clipval > 0.f) y = fminf(fmaxf(y, -p.clipval), p.clipval);
      cs[s] = c;
      ns[s] = n;
      ms[s] = m;
      const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
      y_out[t * bh + idx] = from_float<T>(y);
      if (sp.cluster)
        pub[(t % 2) * BT * U + bl * U + u] = y;
      else
        __stcg(published_y(p, t) + idx, y);
      if (p.saved_states) {
        float* st = p.saved_states + (t + 1) * 4 * bh + idx;
        if (sp.cluster) st[0] = y;
        st[bh] = c;
        st[2 * bh] = n;
        st[3 * bh] = m;
        float* gt = p.saved_gates + t * 4 * bh + idx;
        gt[0] = ig;
        gt[bh] = fraw;
        gt[2 * bh] = z;
        gt[3 * bh] = og;
      }
      if (t == p.steps - 1) {
        p.final_state[idx] = y;
        p.final_state[bh + idx] = c;
        p.final_state[2 * bh + idx] = n;
        p.final_state[3 * bh + idx] = m;
      }
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

}  // namespace
}  // namespace detail

std::size_t forward_workspace_bytes(const Sizes& sizes) {
  const std::size_t ring = 2 * sizeof(float) * sizes.batch * sizes.num_heads * sizes.head_dim;
  const std::size_t counters = sizeof(unsigned) * sizes.num_heads * sizes.batch;
  return (ring + 255) / 256 * 256 + counters;
}

cudaError_t forward(const ForwardArgs& a, void* workspace, cudaStream_t stream) {
  using namespace detail;
  if (!check_sizes(a.sizes).empty()) return cudaErrorInvalidValue;
  DeviceLimits lim;
  cudaError_t err = device_limits(&lim);
  if (err != cudaSuccess) return err;
  const Sizes& s = a.sizes;
  ForwardParams p{};
  p.steps = s.steps;
  p.batch = s.batch;
  p.num_heads = s.num_heads;
  p.head_dim = s.head_dim;
  p.hidden = s.num_heads * s.head_dim;
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
  err = cudaMemsetAsync(p.counters, 0, sizeof(unsigned) * s.num_heads * s.batch, stream);
  if (err != cudaSuccess) return err;
  switch (a.element_type) {
    case ElementType::kFloat32:
      return launch(forward_kernel<float>, p, Direction::kForward, s, lim, a.use_cluster, stream);
    case ElementType::kBFloat16:
      return launch(forward_kernel<__nv_bfloat16>, p, Direction::kForward, s, lim, a.use_cluster,
                    stream);
    case ElementType::kFloat16:
      return launch(forward_kernel<__half>, p, Direction::kForward, s, lim, a.use_cluster, stream);
  }
  return cudaErrorInvalidValue;
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
