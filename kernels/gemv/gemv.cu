// The decode matrix-vector kernels (gemv_kernels.h).
// Tensor-core kernel (bfloat16 / float16): a block of 8 warps per tile of 16 rows of W (8 gate and
// the 8 matching up rows for the gated SiLU); the warps split the input size. Each thread loads 16
// bytes (8 consecutive k) of rows gid and gid + 8 and the same 8 k of x row gid, kUnroll loads per
// row a step, the next step's weights in flight during this step's products (the first step's
// issued before the wait for the kernel that writes x: common/dependent_launch.cuh), and feeds
// them to two m16n8k16 products: a dot product may take its k in any
// order, so the 8 loaded k are assigned to the mma's k slots 2tig, 2tig + 1, 2tig + 8, 2tig + 9 of
// two products, the same for W and x. x (a few kilobytes, shared by every block) is read through
// L1; W is streamed past it. The warps' partial sums meet in shared memory, where the epilogue
// threads (one per output) finish them.
// FMA kernel (any type and size): a warp per output, lanes over k, float32 FMAs.
#include <cstdint>

#include "common/convert.cuh"
#include "common/dependent_launch.cuh"
#include "common/mma.cuh"
#include "gemv/gemv_kernels.h"

namespace xlstm::kernels::gemv {
namespace {

constexpr int kWarps = 8;  // per block
constexpr int kThreads = kWarps * 32;
constexpr int kUnroll = 2;     // 16-byte loads per W row and step of a thread (2 and 8 measured
                               // alike on the H200: docs/xlstm_large.md)
constexpr int kTileRows = 16;  // rows of W per block of the tensor-core kernel (the mma's M)
constexpr int kChunk = 8;      // k per 16-byte load

template <typename T>
__device__ __forceinline__ float rounded(float v) {
  return to_float(from_float<T>(v));
}

int weight_rows(const GemvArgs& a) {
  int rows = 0;
  for (int p = 0; p < a.part_count; ++p) rows += a.parts[p].rows;
  return rows;
}

int output_count(const GemvArgs& a) {
  const int rows = weight_rows(a);
  return a.epilogue == Epilogue::kGatedSilu ? rows / 2 : rows;
}

// Row r of the stacked W (null past the end).
template <typename T>
__device__ __forceinline__ const T* weight_row(const GemvArgs& a, int r) {
  for (int p = 0; p < a.part_count; ++p) {
    if (r < a.parts[p].rows)
      return static_cast<const T*>(a.parts[p].weight) + int64_t(r) * a.input_size;
    r -= a.parts[p].rows;
  }
  return nullptr;
}

// The bias of row r of the stacked W (0 without one).
template <typename T>
__device__ __forceinline__ float row_bias(const GemvArgs& a, int r) {
  for (int p = 0; p < a.part_count; ++p) {
    if (r < a.parts[p].rows)
      return a.parts[p].bias ? to_float(static_cast<const T*>(a.parts[p].bias)[r]) : 0.f;
    r -= a.parts[p].rows;
  }
  return 0.f;
}

// y[b, j] from u = (x W^T)[b, row j] (the gate row for kGatedSilu, z its up row), biases added
// here. Each step is rounded to T as the ATen op that stores it would round it.
template <typename T>
__device__ __forceinline__ void store_output(const GemvArgs& a, int outputs, int b, int j, float u,
                                             float z) {
  u += row_bias<T>(a, j);
  float out = u;
  switch (a.epilogue) {
    case Epilogue::kResidual:
      out = rounded<T>(u) +
            to_float(static_cast<const T*>(a.residual)[int64_t(b) * a.residual_row_stride + j]);
      break;
    case Epilogue::kSoftCap:
      // ATen's cap * tanh(x / cap) on CUDA: the division is a product with 1 / cap.
      out = a.cap * rounded<T>(tanhf(rounded<T>(rounded<T>(u) * (1.f / a.cap))));
      break;
    case Epilogue::kGatedSilu: {
      const float g = rounded<T>(u);
      z = rounded<T>(z + row_bias<T>(a, outputs + j));
      out = rounded<T>(g / (1.f + expf(-g))) * z;  // ATen's silu, rounded before the product
      break;
    }
    case Epilogue::kNone:
      break;
  }
  static_cast<T*>(a.y)[int64_t(b) * outputs + j] = from_float<T>(out);
}

__device__ __forceinline__ uint4 load_streaming(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

// kXTiles tiles of 8 rows of x (M <= 8 * kXTiles).
template <typename T, int kXTiles>
__global__ void __launch_bounds__(kThreads, 3) gemv_mma_kernel(GemvArgs a, int outputs) {
  __shared__ float partial[kWarps][kTileRows][8 * kXTiles];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const bool gated = a.epilogue == Epilogue::kGatedSilu;
  // The W rows of this thread's mma rows gid and gid + 8.
  const int first = blockIdx.x * (gated ? kTileRows / 2 : kTileRows);
  int row_lo = first + gid, row_hi = first + gid + 8;
  if (gated) row_hi = outputs + row_lo;
  const bool valid_lo = row_lo < outputs, valid_hi = gated ? valid_lo : row_hi < outputs;
  const T* w_lo = valid_lo ? weight_row<T>(a, row_lo) : nullptr;
  const T* w_hi = valid_hi ? weight_row<T>(a, row_hi) : nullptr;
  const T* x_rows[kXTiles];
#pragma unroll
  for (int t = 0; t < kXTiles; ++t) {
    const int b = gid + 8 * t;
    x_rows[t] =
        b < a.input_rows ? static_cast<const T*>(a.x) + int64_t(b) * a.x_row_stride : nullptr;
  }
  float acc[kXTiles][4] = {};
  const int chunks = a.input_size / kChunk;
  constexpr int kStride = kWarps * 4;  // chunks per step of all warps
  constexpr int kAdvance = kUnroll * kStride;
  // W rows gid and gid + 8 at the kUnroll chunks of `step` (zeros past the end).
  const auto load_weights = [&](int step, uint4(&lo)[kUnroll], uint4(&hi)[kUnroll]) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = step + tig + u * kStride;
      const bool in = c < chunks;
      lo[u] = in && w_lo ? load_streaming(w_lo + c * kChunk) : make_uint4(0, 0, 0, 0);
      hi[u] = in && w_hi ? load_streaming(w_hi + c * kChunk) : make_uint4(0, 0, 0, 0);
    }
  };
  // The weights are constant: their first loads may be in flight while the kernel before this one
  // (which writes x) finishes.
  uint4 lo[kUnroll], hi[kUnroll];
  load_weights(warp * 4, lo, hi);
  wait_for_previous_kernels();
  let_next_kernel_start();
  // The loop runs alike for the whole warp (mma.sync needs every lane); loads past the end are
  // predicated off and read as zeros. The next step's weights are loaded before this step's
  // products.
  for (int step = warp * 4; step < chunks; step += kAdvance) {
    uint4 xv[kXTiles][kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = step + tig + u * kStride;
#pragma unroll
      for (int t = 0; t < kXTiles; ++t)
        xv[t][u] = c < chunks && x_rows[t]
                       ? __ldg(reinterpret_cast<const uint4*>(x_rows[t] + c * kChunk))
                       : make_uint4(0, 0, 0, 0);
    }
    uint4 lo_next[kUnroll], hi_next[kUnroll];
    load_weights(step + kAdvance, lo_next, hi_next);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const unsigned a0[4] = {lo[u].x, hi[u].x, lo[u].y, hi[u].y};
      const unsigned a1[4] = {lo[u].z, hi[u].z, lo[u].w, hi[u].w};
#pragma unroll
      for (int t = 0; t < kXTiles; ++t) {
        mma_16816<T>(acc[t], a0, xv[t][u].x, xv[t][u].y);
        mma_16816<T>(acc[t], a1, xv[t][u].z, xv[t][u].w);
      }
      lo[u] = lo_next[u];
      hi[u] = hi_next[u];
    }
  }
#pragma unroll
  for (int t = 0; t < kXTiles; ++t) {
    partial[warp][gid][8 * t + 2 * tig] = acc[t][0];
    partial[warp][gid][8 * t + 2 * tig + 1] = acc[t][1];
    partial[warp][gid + 8][8 * t + 2 * tig] = acc[t][2];
    partial[warp][gid + 8][8 * t + 2 * tig + 1] = acc[t][3];
  }
  __syncthreads();
  // One thread per (tile row, x row): the sums over the warps, then the epilogue.
  const int row = threadIdx.x / (8 * kXTiles), b = threadIdx.x % (8 * kXTiles);
  if (row >= (gated ? kTileRows / 2 : kTileRows) || b >= a.input_rows) return;
  const int j = first + row;
  if (j >= outputs) return;
  float u = 0.f, z = 0.f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    u += partial[w][row][b];
    if (gated) z += partial[w][row + 8][b];
  }
  store_output<T>(a, outputs, b, j, u, z);
}

template <typename T>
__global__ void __launch_bounds__(kThreads) gemv_fma_kernel(GemvArgs a, int outputs) {
  wait_for_previous_kernels();
  let_next_kernel_start();
  const int j = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (j >= outputs) return;
  const bool gated = a.epilogue == Epilogue::kGatedSilu;
  const T* w = weight_row<T>(a, j);
  const T* wz = gated ? weight_row<T>(a, outputs + j) : nullptr;
  const T* x = static_cast<const T*>(a.x);
  float acc[kMaxInputRows] = {}, acc_z[kMaxInputRows] = {};
  for (int k = lane; k < a.input_size; k += 32) {
    const float wk = to_float(w[k]), wzk = gated ? to_float(wz[k]) : 0.f;
#pragma unroll
    for (int b = 0; b < kMaxInputRows; ++b) {
      if (b < a.input_rows) {
        const float xk = to_float(x[int64_t(b) * a.x_row_stride + k]);
        acc[b] += wk * xk;
        acc_z[b] += wzk * xk;
      }
    }
  }
#pragma unroll
  for (int b = 0; b < kMaxInputRows; ++b) {
    if (b >= a.input_rows) break;
    for (int offset = 16; offset > 0; offset /= 2) {
      acc[b] += __shfl_xor_sync(0xffffffffu, acc[b], offset);
      acc_z[b] += __shfl_xor_sync(0xffffffffu, acc_z[b], offset);
    }
    if (lane == 0) store_output<T>(a, outputs, b, j, acc[b], acc_z[b]);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

// Whether every W row and x row can be read in 16-byte loads.
bool loads_fit(const GemvArgs& a) {
  if (a.input_size % kChunk != 0 || a.x_row_stride % kChunk != 0 || !aligned16(a.x)) return false;
  for (int p = 0; p < a.part_count; ++p)
    if (!aligned16(a.parts[p].weight)) return false;
  return true;
}

template <typename T>
cudaError_t launch_fma(const GemvArgs& a, int outputs, cudaStream_t stream) {
  return launch_overlapping(gemv_fma_kernel<T>, (outputs + kWarps - 1) / kWarps, kThreads, 0,
                            stream, a, outputs);
}

template <typename T>
cudaError_t launch(const GemvArgs& a, cudaStream_t stream) {
  const int outputs = output_count(a);
  constexpr bool kTensorCores = sizeof(T) == 2;
  if (kTensorCores && loads_fit(a)) {
    const int tile_outputs = a.epilogue == Epilogue::kGatedSilu ? kTileRows / 2 : kTileRows;
    const int blocks = (outputs + tile_outputs - 1) / tile_outputs;
    return a.input_rows <= 8
               ? launch_overlapping(gemv_mma_kernel<T, 1>, blocks, kThreads, 0, stream, a, outputs)
               : launch_overlapping(gemv_mma_kernel<T, 2>, blocks, kThreads, 0, stream, a, outputs);
  }
  return launch_fma<T>(a, outputs, stream);
}

// The tensor-core kernel exists for the 16-bit types only.
template <>
cudaError_t launch<float>(const GemvArgs& a, cudaStream_t stream) {
  return launch_fma<float>(a, output_count(a), stream);
}

}  // namespace

cudaError_t gemv(const GemvArgs& args, cudaStream_t stream) {
  if (args.input_rows <= 0 || args.input_rows > kMaxInputRows || args.input_size <= 0 ||
      args.part_count <= 0 || args.part_count > kMaxParts || !args.x || !args.y ||
      args.x_row_stride < args.input_size)
    return cudaErrorInvalidValue;
  for (int p = 0; p < args.part_count; ++p)
    if (!args.parts[p].weight || args.parts[p].rows <= 0) return cudaErrorInvalidValue;
  const int rows = weight_rows(args);
  if (args.epilogue == Epilogue::kGatedSilu && rows % 2 != 0) return cudaErrorInvalidValue;
  if (args.epilogue == Epilogue::kResidual &&
      (!args.residual || args.residual_row_stride < output_count(args)))
    return cudaErrorInvalidValue;
  if (args.epilogue == Epilogue::kSoftCap && !(args.cap > 0.f)) return cudaErrorInvalidValue;
  return with_element_type(args.element_type,
                           [&](auto zero) { return launch<decltype(zero)>(args, stream); });
}

}  // namespace xlstm::kernels::gemv
