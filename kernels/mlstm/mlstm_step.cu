// The mLSTM step kernels (mlstm_kernels.h). Per head s = (b, h), with k scaled by 1/sqrt(DHqk):
//   m' = max(log sigmoid(f~) + m, i~),  f = exp(log sigmoid(f~) + m - m'),  i = exp(i~ - m')
//   n' = f n + i k,  C' = f C + i k v^T,  h = C'^T q / (max(|n'^T q|, exp(-m')) + eps)
// gate_kernel: one block per head for m', n' and the normaliser (the pre-activations soft-capped
// first when asked); memory_kernel: C' and h, a block
// per (head, 32 columns of C: DHv in all), its warps over ranges of the DHqk rows. Every element of
// the state is read before it is written, by the thread that writes it, so "after" may alias
// "before".
#include <cmath>

#include "common/convert.cuh"
#include "common/dependent_launch.cuh"
#include "mlstm/mlstm_kernels.h"

namespace xlstm::kernels::mlstm {
namespace {

constexpr int kGateThreads = 256;
constexpr int kTileColumns = 32;  // columns of C per block (one per lane)
constexpr int kRowGroups = 4;     // warps per block, each over a range of rows
constexpr int kRowBatch = 16;     // rows loaded before any is stored (keeps loads in flight)

__device__ __forceinline__ float log_sigmoid(float x) {
  return x < 0.f ? x - log1pf(expf(x)) : -log1pf(expf(-x));
}

template <typename G>
__device__ __forceinline__ float rounded(float v) {
  return to_float(from_float<G>(v));
}

// Pre-activation (b, h) of a gate, soft-capped when cap > 0 as ATen's cap * tanh(x / cap) on
// tensors of G computes it (the division a product with 1 / cap, each step rounded).
template <typename G>
__device__ __forceinline__ float gate_preact(const void* gate, int64_t batch_stride,
                                             int64_t head_stride, int b, int h, float cap) {
  const float x = to_float(static_cast<const G*>(gate)[b * batch_stride + h * head_stride]);
  if (!(cap > 0.f)) return x;
  return rounded<G>(cap * rounded<G>(tanhf(rounded<G>(x * (1.f / cap)))));
}

// The first element of head h of batch entry b of q, k or v.
template <typename T>
__device__ __forceinline__ const T* head_start(const void* base, int64_t batch_stride, int b, int h,
                                               int head_dim) {
  return static_cast<const T*>(base) + b * batch_stride + int64_t(h) * head_dim;
}

template <typename T, typename G>
__global__ void gate_kernel(StepArgs a) {
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int s = blockIdx.x, DH = a.qk_head_dim, b = s / a.heads, hd = s % a.heads;
  const size_t row = size_t(s) * DH;
  const T* q = head_start<T>(a.q, a.q_batch_stride, b, hd, DH);
  const T* k = head_start<T>(a.k, a.k_batch_stride, b, hd, DH);
  const float f_pre =
      gate_preact<G>(a.fgate, a.fgate_batch_stride, a.fgate_head_stride, b, hd, a.gate_soft_cap);
  const float log_f_plus_m = log_sigmoid(f_pre) + a.m_in[s];
  const float i_pre =
      gate_preact<G>(a.igate, a.igate_batch_stride, a.igate_head_stride, b, hd, a.gate_soft_cap);
  const float m_new = fmaxf(log_f_plus_m, i_pre);
  const float f_act = expf(log_f_plus_m - m_new);
  const float i_scale = expf(i_pre - m_new) / sqrtf(static_cast<float>(DH));
  float partial = 0.f;  // of n'^T q
  for (int d = threadIdx.x; d < DH; d += blockDim.x) {
    const float n_new = i_scale * to_float(k[d]) + f_act * a.n_in[row + d];
    a.n_out[row + d] = n_new;
    partial += to_float(q[d]) * n_new;
  }
  for (int offset = 16; offset > 0; offset /= 2)
    partial += __shfl_down_sync(0xffffffffu, partial, offset);
  __shared__ float warp_sums[kGateThreads / 32];
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = partial;
  __syncthreads();  // also: every thread has read m_in[s] before it is written below
  if (threadIdx.x == 0) {
    float denominator = 0.f;
    for (int w = 0; w < kGateThreads / 32; ++w) denominator += warp_sums[w];
    a.m_out[s] = m_new;
    a.scratch[3 * s] = f_act;
    a.scratch[3 * s + 1] = i_scale;
    a.scratch[3 * s + 2] = fmaxf(fabsf(denominator), expf(-m_new)) + a.eps;
  }
}

template <typename T>
__global__ void memory_kernel(StepArgs a) {
  extern __shared__ float shared[];  // q, i k [DHqk each], partial sums [kRowGroups][kTileColumns]
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int s = blockIdx.x, DH = a.qk_head_dim, DV = a.v_head_dim, b = s / a.heads,
            hd = s % a.heads;
  float* q_s = shared;
  float* ik_s = shared + DH;
  float* partial = shared + 2 * DH;
  const float f_act = a.scratch[3 * s], i_scale = a.scratch[3 * s + 1];
  const float normaliser = a.scratch[3 * s + 2];
  const size_t row = size_t(s) * DH, column = size_t(s) * DV;
  const T* q = head_start<T>(a.q, a.q_batch_stride, b, hd, DH);
  const T* k = head_start<T>(a.k, a.k_batch_stride, b, hd, DH);
  const T* v = head_start<T>(a.v, a.v_batch_stride, b, hd, DV);
  for (int d = threadIdx.y * kTileColumns + threadIdx.x; d < DH; d += kTileColumns * kRowGroups) {
    q_s[d] = to_float(q[d]);
    ik_s[d] = i_scale * to_float(k[d]);
  }
  __syncthreads();
  const int d2 = blockIdx.y * kTileColumns + threadIdx.x;
  float acc = 0.f;  // of C'^T q over this warp's rows
  if (d2 < DV) {
    const float v_d2 = to_float(v[d2]);
    const int rows = (DH + kRowGroups - 1) / kRowGroups;
    const int first = threadIdx.y * rows, last = min(DH, first + rows);
    const float* C_in = a.C_in + row * DV + d2;
    float* C_out = a.C_out + row * DV + d2;
    for (int d1 = first; d1 < last; d1 += kRowBatch) {
      float c[kRowBatch];
#pragma unroll
      for (int j = 0; j < kRowBatch; ++j) c[j] = d1 + j < last ? C_in[size_t(d1 + j) * DV] : 0.f;
#pragma unroll
      for (int j = 0; j < kRowBatch; ++j) {
        if (d1 + j < last) {
          const float updated = f_act * c[j] + ik_s[d1 + j] * v_d2;
          C_out[size_t(d1 + j) * DV] = updated;
          acc += q_s[d1 + j] * updated;
        }
      }
    }
  }
  partial[threadIdx.y * kTileColumns + threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && d2 < DV) {
    float numerator = 0.f;
    for (int g = 0; g < kRowGroups; ++g) numerator += partial[g * kTileColumns + threadIdx.x];
    static_cast<T*>(a.h)[column + d2] = from_float<T>(numerator / normaliser);
  }
}

template <typename T>
cudaError_t launch_memory(const StepArgs& a, cudaStream_t stream) {
  const dim3 grid(a.batch * a.heads, (a.v_head_dim + kTileColumns - 1) / kTileColumns);
  const dim3 block(kTileColumns, kRowGroups);
  const size_t smem = (2 * size_t(a.qk_head_dim) + kRowGroups * kTileColumns) * sizeof(float);
  return launch_overlapping(memory_kernel<T>, grid, block, smem, stream, a);
}

template <typename T, typename G>
cudaError_t launch(const StepArgs& a, cudaStream_t stream) {
  const cudaError_t err =
      launch_overlapping(gate_kernel<T, G>, a.batch * a.heads, kGateThreads, 0, stream, a);
  return err != cudaSuccess ? err : launch_memory<T>(a, stream);
}

bool valid(const StepArgs& a) {
  return a.batch > 0 && a.heads > 0 && a.qk_head_dim > 0 && a.v_head_dim > 0 &&
         a.qk_head_dim <= kMaxStepHeadDim;
}

}  // namespace

cudaError_t step(const StepArgs& args, cudaStream_t stream) {
  if (!valid(args)) return cudaErrorInvalidValue;
  return with_element_type(args.element_type, [&](auto zero) {
    return with_element_type(args.gate_element_type, [&](auto gate_zero) {
      return launch<decltype(zero), decltype(gate_zero)>(args, stream);
    });
  });
}

cudaError_t step_memory(const StepArgs& args, cudaStream_t stream) {
  if (!valid(args)) return cudaErrorInvalidValue;
  return with_element_type(args.element_type,
                           [&](auto zero) { return launch_memory<decltype(zero)>(args, stream); });
}

}  // namespace xlstm::kernels::mlstm
