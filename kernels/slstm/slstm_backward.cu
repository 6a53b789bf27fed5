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
  int steps, batch, num_heads, head_dim, hidden;
  int batch_tile, units, slices, split_k, tiles, ld, group0;
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

template <typename T>
__global__ void __launch_bounds__(kThreads) backward_kernel(BackwardParams p) {
  extern __shared__ float4 smem4[];
  const int group = p.group0 + blockIdx.x / p.slices, slice = blockIdx.x % p.slices;
  const int head = group % p.num_heads, b0 = (group / p.num_heads) * p.batch_tile;
  const int u0 = slice * p.units, nu = min(p.units, p.head_dim - u0);
  const int nb = min(p.batch_tile, p.batch - b0);
  const int bt4 = (p.batch_tile + 3) / 4 * 4, ld = p.ld, dh = p.head_dim, H = p.hidden;
  const std::size_t bh = static_cast<std::size_t>(p.batch) * H;
  float* rs = reinterpret_cast<float*>(smem4);  // [U][ld]: column u of R, as (gate, out)
  float* gs = rs + p.units * ld;                // [BT4][ld]: dg_{t+1} of the batch tile
  float* dcs = gs + bt4 * ld;                   // [U][BT] carried dc
  float* dns = dcs + p.units * p.batch_tile;    // [U][BT] carried dn
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
    dcs[u * p.batch_tile + bl] = p.dfinal[bh + idx];
    dns[u * p.batch_tile + bl] = p.dfinal[2 * bh + idx];
  }
  const T* dy_out = static_cast<const T*>(p.dy);

  const int ks = p.split_k, lane_k = tid % ks, tiles_per_pass = kThreads / ks;
  const int passes = (p.tiles + tiles_per_pass - 1) / tiles_per_pass;
  // t = -1 is the pass that only forms the gradient of the initial state.
  for (int t = p.steps - 1; t >= -1; --t) {
    const bool recurrent = !p.cut && t < p.steps - 1;
    __syncthreads();  // gs holds dg_{t+1}
    for (int pass = 0; pass < passes; ++pass) {
      const int tile = pass * tiles_per_pass + tid / ks;
      const int u = tile % p.units, bg = tile / p.units;
      const bool valid = tile < p.tiles && u < nu;
      // Prefetch what this lane's batch rows need: dy_t, the cached gates, states t and t+1.
      float in[4][11];
#pragma unroll
      for (int bb = 0; bb < 4; ++bb) {
        const int bl = bg * 4 + bb;
        const bool mine = t >= 0 && valid && bb % ks == lane_k && bl < nb;
        const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
        const int tt = max(t, 0);
        const float* gt = p.gates + tt * 4 * bh + idx;
        const float* prev = p.states + tt * 4 * bh + idx;
        const float* next = prev + 4 * bh;
        in[bb][0] = mine ? to_float(dy_out[tt * bh + idx]) : 0.f;
#pragma unroll
        for (int g = 0; g < 4; ++g) in[bb][1 + g] = mine ? gt[g * bh] : 0.f;
        in[bb][5] = mine ? prev[bh] : 0.f;       // c_{t-1}
        in[bb][6] = mine ? prev[2 * bh] : 0.f;   // n_{t-1}
        in[bb][7] = mine ? prev[3 * bh] : 0.f;   // m_{t-1}
        in[bb][8] = mine ? next[0] : 0.f;        // y_t
        in[bb][9] = mine ? next[2 * bh] : 0.f;   // n_t
        in[bb][10] = mine ? next[3 * bh] : 0.f;  // m_t
      }
      float acc[4] = {};  // (R^T dg_{t+1}) for the 4 batch rows
      if (valid && recurrent) {
        const float* rrow = rs + u * ld;
        const float* grow = gs + bg * 4 * ld;
        for (int c = lane_k; c < dh; c += ks) {
          const float4 rv = *reinterpret_cast<const float4*>(rrow + 4 * c);
#pragma unroll
          for (int bb = 0; bb < 4; ++bb)
            acc[bb] += dot4(rv, *reinterpret_cast<const float4*>(grow + bb * ld + 4 * c));
        }
      }
      if (recurrent)
        for (int off = ks / 2; off > 0; off /= 2)
#pragma unroll
          for (int bb = 0; bb < 4; ++bb) acc[bb] += __shfl_xor_sync(0xffffffffu, acc[bb], off);
#pragma unroll
      for (int bb = 0; bb < 4; ++bb) {
        const int bl = bg * 4 + bb;
        if (!(valid && bb % ks == lane_k && bl < nb)) continue;
        const int s = u * p.batch_tile + bl;
        const std::size_t idx = static_cast<std::size_t>(b0 + bl) * H + head * dh + u0 + u;
        if (t < 0) {
          p.dstate0[idx] = acc[bb];
          p.dstate0[bh + idx] = dcs[s];
          p.dstate0[2 * bh + idx] = dns[s];
          p.dstate0[3 * bh + idx] = 0.f;
          continue;
        }
        float dy_rec = acc[bb];
        if (p.clipval > 0.f) dy_rec = fminf(fmaxf(dy_rec, -p.clipval), p.clipval);
        float dy = in[bb][0] + dy_rec;
        if (t == p.steps - 1) dy += p.dfinal[idx];
        const float ig = in[bb][1], fraw = in[bb][2], z = in[bb][3], og = in[bb][4];
        const float c_prev = in[bb][5], n_prev = in[bb][6], m_prev = in[bb][7];
        const float y = in[bb][8], n = in[bb][9], m = in[bb][10];
        const float fg = fminf(expf(logsigmoid(fraw) + m_prev - m), 1.f);
        const float dyn = dy / n;
        const float dc = dcs[s] + dyn * og, dn = dns[s] - dyn * y;
        float* dgt =
            p.dg + (static_cast<std::size_t>(t) * p.batch + b0 + bl) * 4 * H + head * dh + u0 + u;
        __stcg(dgt, ig * (z * dc + dn));
        __stcg(dgt + H, fg * (dc * c_prev + dn * n_prev) * (1.f - sigmoid(fraw)));
        __stcg(dgt + 2 * H, dc * ig * (1.f - z * z));
        __stcg(dgt + 3 * H, (1.f - og) * y * dy);
        dcs[s] = fg * dc;
        dns[s] = fg * dn;
      }
    }
    if (t >= 0 && !p.cut) {
      group_barrier(p.counters + group, static_cast<unsigned>(p.slices * (p.steps - t)));
      // dg_t rows of this head: 4 gate segments of dh floats per batch row.
      const float* src = p.dg + (static_cast<std::size_t>(t) * p.batch + b0) * 4 * H + head * dh;
      for (int g = 0; g < 4; ++g)
        stage_rows(gs + g * dh, ld, src + g * H, 4 * static_cast<std::size_t>(H), bt4, nb, dh);
    }
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
  const Plan plan = make_plan(Direction::kBackward, s, lim);
  if (plan.slices == 0) return cudaErrorInvalidConfiguration;
  BackwardParams p{};
  p.steps = s.steps;
  p.batch = s.batch;
  p.num_heads = s.num_heads;
  p.head_dim = s.head_dim;
  p.hidden = s.num_heads * s.head_dim;
  p.batch_tile = plan.batch_tile;
  p.units = plan.units;
  p.slices = plan.slices;
  p.split_k = plan.split_k;
  p.tiles = plan.tiles;
  p.ld = plan.ld;
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
  err = cudaMemsetAsync(p.counters, 0, sizeof(unsigned) * plan.groups, stream);
  if (err != cudaSuccess) return err;
  switch (a.element_type) {
    case ElementType::kFloat32:
      return launch_waves(backward_kernel<float>, p, plan, lim, stream);
    case ElementType::kBFloat16:
      return launch_waves(backward_kernel<__nv_bfloat16>, p, plan, lim, stream);
    case ElementType::kFloat16:
      return launch_waves(backward_kernel<__half>, p, plan, lim, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace xlstm::kernels::slstm
