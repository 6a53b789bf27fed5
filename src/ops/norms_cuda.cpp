#include "norms_cuda.h"

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda_bridge.h"
#include "kernel_switch.h"
#include "norms/norms_kernels.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::detail {
namespace {

namespace kern = xlstm::kernels::norms;
constexpr const char* kWhere = "norm kernels";

/// The data of a contiguous tensor, or null when it is undefined.
const void* pointer_or_null(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr() : nullptr;
}

cudaStream_t current_stream() {
  return at::cuda::getCurrentCUDAStream();
}

/// Rows of `row_size` elements of x, normalised (kind), scaled and shifted by weight / bias
/// row r % weight_rows, gated by sigmoid(gate) when it is defined (its positions of weight_rows
/// contiguous rows `gate_position_stride` elements apart); the result contiguous, of x's shape.
torch::Tensor row_norm(kern::NormKind kind, const torch::Tensor& x, int64_t row_size,
                       int64_t weight_rows, const torch::Tensor& weight, const torch::Tensor& bias,
                       const torch::Tensor& gate, int64_t gate_position_stride, double eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  const torch::Tensor xc = x.contiguous(), wc = contiguous_if_defined(weight),
                      bc = contiguous_if_defined(bias);
  const torch::Tensor y = torch::empty(xc.sizes(), xc.options());
  kern::RowNormArgs a;
  a.kind = kind;
  a.rows = static_cast<int>(xc.numel() / row_size);
  a.row_size = static_cast<int>(row_size);
  a.weight_rows = static_cast<int>(weight_rows);
  a.element_type = element_type(kWhere, x.scalar_type());
  a.x = xc.data_ptr();
  a.weight = pointer_or_null(wc);
  a.bias = pointer_or_null(bc);
  a.gate = pointer_or_null(gate);
  a.gate_position_stride = gate_position_stride;
  a.y = y.data_ptr();
  a.eps = static_cast<float>(eps);
  check_launch(kWhere, kern::row_norm(a, current_stream()));
  return y;
}

/// The elements between consecutive positions of o [B, S, F] when its positions are evenly spaced
/// rows of F contiguous elements (o contiguous, or a slice of a wider projection output), else -1.
int64_t position_stride(const torch::Tensor& o) {
  const int64_t B = o.size(0), S = o.size(1), F = o.size(2);
  if (o.stride(2) != 1 && F > 1) return -1;
  if (S == 1) return B == 1 ? F : o.stride(0);
  if (B == 1 || o.stride(0) == S * o.stride(1)) return o.stride(1);
  return -1;
}

/// silu(gate) * z over `rows` rows of `features`, gate and z rows `*_row_stride` elements apart
/// from their first elements `gate` and `z` (both within `storage`, contiguous) -> [..., features]
/// of `sizes`.
torch::Tensor gated_silu_rows(const torch::Tensor& storage, const void* gate, const void* z,
                              int64_t rows, int64_t features, int64_t row_stride,
                              c10::IntArrayRef sizes) {
  const c10::cuda::CUDAGuard guard(storage.device());
  std::vector<int64_t> out_sizes = sizes.vec();
  out_sizes.back() = features;
  const torch::Tensor y = torch::empty(out_sizes, storage.options());
  kern::GatedSiluArgs a;
  a.rows = static_cast<int>(rows);
  a.features = static_cast<int>(features);
  a.gate_row_stride = a.z_row_stride = row_stride;
  a.element_type = element_type(kWhere, storage.scalar_type());
  a.gate = gate;
  a.z = z;
  a.y = y.data_ptr();
  check_launch(kWhere, kern::gated_silu(a, current_stream()));
  return y;
}

}  // namespace

bool norm_kernels_apply(c10::ArrayRef<torch::Tensor> tensors) {
  if (!kernels_switched_on("XLSTM_NORM_KERNELS")) return false;
  const torch::Tensor* first = nullptr;
  for (const torch::Tensor& t : tensors) {
    if (!t.defined()) continue;
    if (!first) first = &t;
    // Every tensor on the first one's device (else ATen's device error, not a wrong pointer).
    if (!t.is_cuda() || t.device() != first->device() || t.scalar_type() != first->scalar_type() ||
        t.numel() == 0 || t.numel() > INT_MAX)
      return false;
  }
  return first && kernel_dtype(first->scalar_type()) && !needs_grad(tensors);
}

torch::Tensor rms_norm_cuda(const torch::Tensor& x, const torch::Tensor& weight,
                            const torch::Tensor& bias, double eps) {
  return row_norm(kern::NormKind::kRms, x, x.size(-1), 1, weight, bias, {}, 0, eps);
}

torch::Tensor multihead_norm_cuda(const torch::Tensor& h, const torch::Tensor& o,
                                  const torch::Tensor& weight, const torch::Tensor& bias,
                                  double eps) {
  // Rows of h [B, S, NH, DH] are heads; o [B, S, NH * DH] holds the same rows by position, read
  // in place when they are evenly spaced (a slice of the fused projection output).
  const int64_t B = h.size(0), S = h.size(1), NH = h.size(2), DH = h.size(3);
  torch::Tensor gate = o;
  int64_t gate_position_stride = o.defined() ? position_stride(o) : 0;
  if (o.defined() && gate_position_stride < NH * DH) {
    gate = o.contiguous();
    gate_position_stride = NH * DH;
  }
  return row_norm(kern::NormKind::kLayer, h, DH, NH, weight, bias, gate, gate_position_stride, eps)
      .view({B, S, NH * DH});
}

torch::Tensor gated_silu_cuda(const torch::Tensor& gate, const torch::Tensor& z) {
  const torch::Tensor gc = gate.contiguous(), zc = z.contiguous();
  const int64_t features = gate.size(-1);
  return gated_silu_rows(gc, gc.data_ptr(), zc.data_ptr(), gc.numel() / features, features,
                         features, gate.sizes());
}

torch::Tensor gated_silu_fused_cuda(const torch::Tensor& gate_z) {
  const torch::Tensor c = gate_z.contiguous();
  const int64_t row = c.size(-1), features = row / 2;
  const auto* first = static_cast<const char*>(c.data_ptr());
  return gated_silu_rows(c, first, first + features * c.element_size(), c.numel() / row, features,
                         row, c.sizes());
}

torch::Tensor soft_cap_cuda(const torch::Tensor& x, double cap) {
  const c10::cuda::CUDAGuard guard(x.device());
  const torch::Tensor xc = x.contiguous();
  const torch::Tensor y = torch::empty(xc.sizes(), xc.options());
  kern::SoftCapArgs a;
  a.count = xc.numel();
  a.element_type = element_type(kWhere, x.scalar_type());
  a.x = xc.data_ptr();
  a.y = y.data_ptr();
  a.cap = static_cast<float>(cap);
  check_launch(kWhere, kern::soft_cap(a, current_stream()));
  return y;
}

}  // namespace xlstm::ops::detail
