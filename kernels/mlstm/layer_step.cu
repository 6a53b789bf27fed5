// The mLSTM layer step kernels (layer_step_kernels.h). Per batch row b, with F features, NH heads
// of DH, headwise blocks of size P = F / QH and KS conv taps:
//   features_kernel (blocks of whole headwise blocks of a row): the conv window shifted by
//     x_mlstm (the next conv state), silu(conv) = x_act, q / k = headwise(x_act),
//     v = headwise(x_mlstm);
//   gates_kernel (one block per row and head): the gate pre-activations i~, f~ = W cat(q, k, v)
//     + b, m' = max(log sigmoid(f~) + m, i~), f = exp(log sigmoid(f~) + m - m'),
//     i = exp(i~ - m') / sqrt(DH) (paper eqs. 15-17), n' = f n + i k and the normaliser
//     max(|n'^T q|, exp(-m')) + eps;
//   step_memory (mlstm_step.cu): C' = f C + i k v^T and h~ = C'^T q / normaliser (eqs. 19-21);
//   output_kernel (one block per row and head): layer norm of h~ over the head, times the norm
//     weight (+ bias), + learnable_skip * x_act, times silu(z).
// Values are rounded to T where the ATen ops of mLSTMLayer's step store them (the conv's tap
// products and sum, silu, q / k / v, the gates, h~, the norm, the skip sum, silu(z)), so the
// kernels give the ATen numbers up to the order of the sums.
#include <cmath>

#include "common/convert.cuh"
#include "common/dependent_launch.cuh"
#include "mlstm/layer_step_kernels.h"
#include "mlstm/mlstm_kernels.h"

namespace xlstm::kernels::mlstm {
namespace {

constexpr int kFeatureThreads = 256;
constexpr int kGateThreads = 256;
constexpr int kOutputThreads = 128;
constexpr size_t kMaxFeatureSharedBytes = 200 * 1024;
constexpr size_t kDefaultSharedBytes = 48 * 1024;

template <typename T>
__device__ __forceinline__ float rounded(float v) {
  return to_float(from_float<T>(v));
}

template <typename T>
__device__ __forceinline__ float load(const void* p, int64_t i) {
  return to_float(static_cast<const T*>(p)[i]);
}

__device__ __forceinline__ float silu(float x) {
  return x / (1.f + expf(-x));
}

__device__ __forceinline__ float log_sigmoid(float x) {
  return x < 0.f ? x - log1pf(expf(x)) : -log1pf(expf(-x));
}

// The sum of v over the block (in a fixed order, so bitwise reproducible), for every thread.
// warp_sums: 32 floats of shared memory.
__device__ float block_sum(float v, float* warp_sums) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  __syncthreads();  // warp_sums no longer read by a previous call
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < int(blockDim.x / 32); ++w) total += warp_sums[w];
  return total;
}

// Features [first, first + count) of row blockIdx.x, count a multiple of the headwise block size
// P: the conv and x_act, then q, k, v of the same features (their inputs are in this range).
template <typename T>
__global__ void features_kernel(LayerStepArgs a, int per_block, T* qkv_out, T* x_act_out) {
  extern __shared__ float shared[];  // x_act, x_mlstm [per_block each]
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int b = blockIdx.x, F = a.features, KS = a.conv_taps, P = F / a.qkv_blocks;
  const int first = blockIdx.y * per_block, count = min(per_block, F - first);
  float* x_act = shared;
  float* x_mlstm = shared + per_block;
  const T* x = static_cast<const T*>(a.x_inner) + int64_t(b) * 2 * F;
  const T* conv_in = static_cast<const T*>(a.conv_in) + int64_t(b) * KS * F;
  T* conv_out = static_cast<T*>(a.conv_out) + int64_t(b) * KS * F;
  for (int j = threadIdx.x; j < count; j += blockDim.x) {
    const int f = first + j;
    float acc = 0.f;
    // Window k is input k + 1 of the old window, the last one x; each entry is read before the
    // same thread overwrites it (in place).
    for (int k = 0; k < KS; ++k) {
      const T in = k + 1 < KS ? conv_in[int64_t(k + 1) * F + f] : x[f];
      conv_out[int64_t(k) * F + f] = in;
      acc += rounded<T>(to_float(in) * load<T>(a.conv_weight, int64_t(f) * KS + k));
    }
    float conv = rounded<T>(acc);
    if (a.conv_bias) conv = rounded<T>(conv + load<T>(a.conv_bias, f));
    x_act[j] = rounded<T>(silu(conv));
    x_mlstm[j] = to_float(x[f]);
    x_act_out[int64_t(b) * F + f] = from_float<T>(x_act[j]);
  }
  __syncthreads();
  T* qkv_row = qkv_out + int64_t(b) * 3 * F;
  for (int j = threadIdx.x; j < count; j += blockDim.x) {
    const int f = first + j, inputs = j / P * P;  // the headwise block's first input
    float q = 0.f, k = 0.f, v = 0.f;
    for (int i = 0; i < P; ++i) {
      const int64_t w = int64_t(f) * P + i;
      q += x_act[inputs + i] * load<T>(a.q_weight, w);
      k += x_act[inputs + i] * load<T>(a.k_weight, w);
      v += x_mlstm[inputs + i] * load<T>(a.v_weight, w);
    }
    q = rounded<T>(q);
    k = rounded<T>(k);
    v = rounded<T>(v);
    if (a.q_bias) q = rounded<T>(q + load<T>(a.q_bias, f));
    if (a.k_bias) k = rounded<T>(k + load<T>(a.k_bias, f));
    if (a.v_bias) v = rounded<T>(v + load<T>(a.v_bias, f));
    qkv_row[f] = from_float<T>(q);
    qkv_row[F + f] = from_float<T>(k);
    qkv_row[2 * F + f] = from_float<T>(v);
  }
}

// Head blockIdx.x % NH of row blockIdx.x / NH: its gate pre-activations from cat(q, k, v), the
// stabilised gates, n' and the normaliser.
template <typename T>
__global__ void gates_kernel(LayerStepArgs a, const T* qkv_in, float* gate_scratch) {
  __shared__ float warp_sums[32];
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int s = blockIdx.x, F = a.features, NH = a.heads, DH = F / NH, b = s / NH, hd = s % NH;
  const T* qkv = qkv_in + int64_t(b) * 3 * F;
  const T* i_weight = static_cast<const T*>(a.igate_weight) + int64_t(hd) * 3 * F;
  const T* f_weight = static_cast<const T*>(a.fgate_weight) + int64_t(hd) * 3 * F;
  float i_partial = 0.f, f_partial = 0.f;
  for (int c = threadIdx.x; c < 3 * F; c += blockDim.x) {
    const float value = to_float(qkv[c]);
    i_partial += value * to_float(i_weight[c]);
    f_partial += value * to_float(f_weight[c]);
  }
  const float i_pre = rounded<T>(block_sum(i_partial, warp_sums) +
                                 (a.igate_bias ? load<T>(a.igate_bias, hd) : 0.f));
  const float f_pre = rounded<T>(block_sum(f_partial, warp_sums) +
                                 (a.fgate_bias ? load<T>(a.fgate_bias, hd) : 0.f));
  const float log_f_plus_m = log_sigmoid(f_pre) + a.m_in[s];
  const float m_new = fmaxf(log_f_plus_m, i_pre);
  const float f_act = expf(log_f_plus_m - m_new);
  const float i_scale = expf(i_pre - m_new) / sqrtf(static_cast<float>(DH));
  float partial = 0.f;  // of n'^T q
  for (int d = threadIdx.x; d < DH; d += blockDim.x) {
    const int64_t i = int64_t(s) * DH + d;
    const float n = i_scale * to_float(qkv[F + hd * DH + d]) + f_act * a.n_in[i];
    a.n_out[i] = n;
    partial += to_float(qkv[hd * DH + d]) * n;
  }
  const float denominator = block_sum(partial, warp_sums);  // its syncs: m_in read by all
  if (threadIdx.x == 0) {
    a.m_out[s] = m_new;
    gate_scratch[3 * s] = f_act;
    gate_scratch[3 * s + 1] = i_scale;
    gate_scratch[3 * s + 2] = fmaxf(fabsf(denominator), expf(-m_new)) + a.cell_eps;
  }
}

template <typename T>
__global__ void output_kernel(LayerStepArgs a, const T* h_tilde, const T* x_act) {
  __shared__ float warp_sums[32];
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int s = blockIdx.x, F = a.features, NH = a.heads, DH = F / NH, b = s / NH, hd = s % NH;
  const T* h = h_tilde + int64_t(s) * DH;  // [B, NH, DH]: row b's features hd * DH ...
  float sum = 0.f;
  for (int d = threadIdx.x; d < DH; d += blockDim.x) sum += to_float(h[d]);
  const float mean = block_sum(sum, warp_sums) / DH;
  float squares = 0.f;
  for (int d = threadIdx.x; d < DH; d += blockDim.x) {
    const float centred = to_float(h[d]) - mean;
    squares += centred * centred;
  }
  const float inv_std = rsqrtf(block_sum(squares, warp_sums) / DH + a.norm_eps);
  const T* z = static_cast<const T*>(a.x_inner) + int64_t(b) * 2 * F + F;
  T* out = static_cast<T*>(a.h) + int64_t(b) * F;
  for (int d = threadIdx.x; d < DH; d += blockDim.x) {
    const int f = hd * DH + d;
    float y = rounded<T>((to_float(h[d]) - mean) * inv_std);
    if (a.norm_weight) y = rounded<T>(y * load<T>(a.norm_weight, f));
    if (a.norm_bias) y = rounded<T>(y + load<T>(a.norm_bias, f));
    // Learnable skip around the cell, then the output gate silu(z).
    const float skipped =
        rounded<T>(y + load<T>(a.learnable_skip, f) * to_float(x_act[int64_t(b) * F + f]));
    out[f] = from_float<T>(skipped * rounded<T>(silu(to_float(z[f]))));
  }
}

size_t element_bytes(ElementType type) {
  return type == ElementType::kFloat32 ? 4 : 2;
}

// Bytes of the T values of the workspace (q, k, v, x_act, h~), rounded up to 16.
size_t value_bytes(const LayerStepArgs& a) {
  return (size_t(a.batch) * 5 * a.features * element_bytes(a.element_type) + 15) / 16 * 16;
}

template <typename T>
cudaError_t launch(const LayerStepArgs& a, cudaStream_t stream) {
  const size_t rows = size_t(a.batch), F = size_t(a.features);
  T* qkv = static_cast<T*>(a.workspace);
  T* x_act = qkv + rows * 3 * F;
  T* h_tilde = x_act + rows * F;
  float* gate_scratch = reinterpret_cast<float*>(static_cast<char*>(a.workspace) + value_bytes(a));
  // Whole headwise blocks per CUDA block, about kFeatureThreads features.
  const int P = a.features / a.qkv_blocks;
  const int per_block = P * max(1, kFeatureThreads / P);
  const dim3 feature_grid(a.batch, (a.features + per_block - 1) / per_block);
  const size_t smem = 2 * size_t(per_block) * sizeof(float);
  cudaError_t err = cudaSuccess;
  if (smem > kDefaultSharedBytes)
    err = cudaFuncSetAttribute(features_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem));
  if (err != cudaSuccess) return err;
  err = launch_overlapping(features_kernel<T>, feature_grid, kFeatureThreads, smem, stream, a,
                           per_block, qkv, x_act);
  if (err != cudaSuccess) return err;
  err = launch_overlapping(gates_kernel<T>, a.batch * a.heads, kGateThreads, 0, stream, a, qkv,
                           gate_scratch);
  if (err != cudaSuccess) return err;

  StepArgs cell;
  cell.batch = a.batch;
  cell.heads = a.heads;
  cell.qk_head_dim = cell.v_head_dim = a.features / a.heads;
  cell.element_type = a.element_type;
  cell.q = qkv;
  cell.k = qkv + F;
  cell.v = qkv + 2 * F;
  cell.q_batch_stride = cell.k_batch_stride = cell.v_batch_stride = int64_t(3 * F);
  cell.C_in = a.C_in;
  cell.C_out = a.C_out;
  cell.h = h_tilde;
  cell.scratch = gate_scratch;
  if ((err = step_memory(cell, stream)) != cudaSuccess) return err;

  return launch_overlapping(output_kernel<T>, a.batch * a.heads, kOutputThreads, 0, stream, a,
                            h_tilde, x_act);
}

}  // namespace

size_t layer_step_workspace_bytes(const LayerStepArgs& args) {
  return value_bytes(args) + size_t(args.batch) * args.heads * 3 * sizeof(float);
}

bool layer_step_supported(int features, int heads, int qkv_blocks, int conv_taps) {
  // features_kernel holds two floats per feature of whole headwise blocks in shared memory.
  return features > 0 && heads > 0 && features % heads == 0 && qkv_blocks > 0 &&
         features % qkv_blocks == 0 && conv_taps > 0 && features / heads <= kMaxStepHeadDim &&
         2 * size_t(features / qkv_blocks) * sizeof(float) <= kMaxFeatureSharedBytes;
}

cudaError_t layer_step(const LayerStepArgs& args, cudaStream_t stream) {
  if (args.batch <= 0 ||
      !layer_step_supported(args.features, args.heads, args.qkv_blocks, args.conv_taps))
    return cudaErrorInvalidValue;
  return with_element_type(args.element_type,
                           [&](auto zero) { return launch<decltype(zero)>(args, stream); });
}

}  // namespace xlstm::kernels::mlstm
