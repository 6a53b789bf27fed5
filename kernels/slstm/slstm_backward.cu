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

struct BackwardParams {
  Split split;
  int steps, batch, num_heads, head_dim, hidden;
  const float* r;
  const float* states;
  const float* gates;
  const void* dy;
  const float* dfinal;
  float* dg;
  float* dstate0;
  unsigned* counters;
  int cut;
  float clipval;
};

// What the update of one (step, unit, batch row) reads besides the carried dc, dn.
struct StepInputs {
  float dy, ig, fraw, z, og, c_prev, n_prev, m_prev, y, n, m;
};

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) backward_kernel(BackwardParams p) {
  extern __shared__ float4 smem4[];
  const Split& sp = p.split;
  const int group = sp.group0 + blockIdx.x / sp.slices, slice = blockIdx.x % sp.slices;
  const int head = group % p.num_heads, b0 = (group / p.num_heads) * sp.batch_tile;
  const int U = sp.units, BT = sp.batch_tile, u0 = slice * U, nu = min(U, p.head_dim - u0);
  const int nb = min(BT, p.batch - b0);
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
  const T* dy_out = static_cast<const T*>(p.dy);

  const int ks = sp.split_k, lane_k = tid % ks, tile = tid / ks;
  const int u = tile % U, bg = tile / U;
  const bool valid = tile < sp.tiles && u < nu;
  bool mine[4];
#pragma unroll
  for (int bb = 0; bb < 4; ++bb) mine[bb] = valid && bb % ks == lane_k && bg * 4 + bb < nb;
  StepInputs in[4];
  const auto load_inputs = [&](int t) {
#pragma unroll
    for (int bb = 0; bb < 4; ++bb) {
      if (!mine[bb]) continue;
      const std::size_t idx = static_cast<std::size_t>(b0 + bg * 4 + bb) * H + head * dh + u0 + u;
      const float* gt = p.gates + t * 4 * bh + idx;
      const float* prev = p.states + t * 4 * bh + idx;
      const float* next = prev + 4 * bh;
      in[bb] = {to_float(dy_out[t * bh + idx]),
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
        p.dstate0[idx] = acc[bb];
        p.dstate0[bh + idx] = dcs[s];
        p.dstate0[2 * bh + idx] = dns[s];
        p.dstate0[3 * bh + idx] = 0.f;
        continue;
      }
      const StepInputs& x = in[bb];
      float dy_rec = acc[bb];
      if (p.clipval > 0.f) dy_rec = fminf(fmaxf(dy_rec, -p.clipval), p.clipval);
      float dy = x.dy + dy_rec;
      if (t == p.steps - 1) dy += p.dfinal[idx];
      const float fg = fminf(__expf(logsigmoid(x.fraw) + x.m_prev - x.m), 1.f);
      const float dyn = dy / x.n;
      const float dc = dcs[s] + dyn * x.og, dn = dns[s] - dyn * x.y;
      const float dg[4] = {x.ig * (x.z * dc + dn),
                           fg * (dc * x.c_prev + dn * x.n_prev) * (1.f - sigmoid(x.fraw)),
                           dc * x.ig * (1.f - x.z * x.z), (1.f - x.og) * x.y * dy};
      float* dgt =
          p.dg + (static_cast<std::size_t>(t) * p.batch + b0 + bl) * 4 * H + head * dh + u0 + u;
#pragma unroll
      for (int g = 0; g < 4; ++g) {
        __stcg(dgt + g * H, dg[g]);
        if (sp.cluster) pub[(t % 2) * BT * 4 * U + (bl * 4 + g) * U + u] = dg[g];
      }
      dcs[s] = fg * dc;
      dns[s] = fg * dn;
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

}  // namespace
}  // namespace detail

std::size_t backward_workspace_bytes(const Sizes& sizes) {
  return sizeof(unsigned) * sizes.num_heads * sizes.batch;
}

cudaError_t backward(const BackwardArgs& a, void* workspace, cudaStream_t stream) {
  using namespace detail;
  if (!check_sizes(a.sizes).empty()) return cudaErrorInvalidValue;
  DeviceLimits lim;
  cudaError_t err = device_limits(&lim);
  if (err != cudaSuccess) return err;
  const Sizes& s = a.sizes;
  BackwardParams p{};
  p.steps = s.steps;
  p.batch = s.batch;
  p.num_heads = s.num_heads;
  p.head_dim = s.head_dim;
  p.hidden = s.num_heads * s.head_dim;
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
  err = cudaMemsetAsync(p.counters, 0, sizeof(unsigned) * s.num_heads * s.batch, stream);
  if (err != cudaSuccess) return err;
  switch (a.element_type) {
    case ElementType::kFloat32:
      return launch(backward_kernel<float>, p, Direction::kBackward, s, lim, a.use_cluster, stream);
    case ElementType::kBFloat16:
      return launch(backward_kernel<__nv_bfloat16>, p, Direction::kBackward, s, lim, a.use_cluster,
                    stream);
    case ElementType::kFloat16:
      return launch(backward_kernel<__half>, p, Direction::kBackward, s, lim, a.use_cluster,
                    stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace xlstm::kernels::slstm
