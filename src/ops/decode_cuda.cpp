#include "decode_cuda.h"

#include <climits>
#include <vector>

#include "cuda_bridge.h"
#include "gemv/gemv_kernels.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::detail {
namespace {

namespace gemv_kern = xlstm::kernels::gemv;
constexpr const char* kGemvWhere = "decode matrix-vector kernels";

/// Whether `t` is a contiguous tensor on x's device in x's dtype.
bool gemv_operand_like(const torch::Tensor& t, const torch::Tensor& x) {
  return t.device() == x.device() && t.scalar_type() == x.scalar_type() && t.is_contiguous();
}

gemv_kern::Epilogue kernel_epilogue(GemvEpilogue epilogue) {
  switch (epilogue) {
    case GemvEpilogue::kResidual:
      return gemv_kern::Epilogue::kResidual;
    case GemvEpilogue::kSoftCap:
      return gemv_kern::Epilogue::kSoftCap;
    case GemvEpilogue::kGatedSilu:
      return gemv_kern::Epilogue::kGatedSilu;
    case GemvEpilogue::kNone:
      break;
  }
  return gemv_kern::Epilogue::kNone;
}

}  // namespace

bool gemv_kernels_apply(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts) {
  if (!x.defined() || !x.is_cuda() || x.dim() < 1 || !kernel_dtype(x.scalar_type())) return false;
  const int64_t K = x.size(-1);
  if (K <= 0 || K > INT_MAX || x.numel() == 0 || x.numel() / K > gemv_kern::kMaxInputRows)
    return false;
  if (parts.empty() || parts.size() > static_cast<size_t>(gemv_kern::kMaxParts)) return false;
  int64_t rows = 0;
  std::vector<torch::Tensor> tensors = {x};
  for (const auto& part : parts) {
    const torch::Tensor& w = part.weight;
    if (!w.defined() || w.dim() != 2 || w.size(1) != K || w.size(0) == 0 ||
        !gemv_operand_like(w, x))
      return false;
    if (part.bias.defined() && (part.bias.dim() != 1 || part.bias.size(0) != w.size(0) ||
                                !gemv_operand_like(part.bias, x)))
      return false;
    rows += w.size(0);
    tensors.push_back(w);
    tensors.push_back(part.bias);
  }
  return rows <= INT_MAX && !needs_grad(tensors);
}

torch::Tensor gemv_cuda(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts,
                        GemvEpilogue epilogue, const torch::Tensor& residual, double cap) {
  const c10::cuda::CUDAGuard guard(x.device());
  const torch::Tensor xc = x.contiguous();
  const int64_t K = x.size(-1);
  gemv_kern::GemvArgs a;
  a.input_rows = static_cast<int>(xc.numel() / K);
  a.input_size = static_cast<int>(K);
  a.element_type = element_type(kGemvWhere, x.scalar_type());
  a.x = xc.data_ptr();
  a.x_row_stride = K;
  int64_t rows = 0;
  for (const auto& part : parts) {
    gemv_kern::WeightPart& p = a.parts[a.part_count++];
    p.weight = part.weight.data_ptr();
    p.bias = part.bias.defined() ? part.bias.data_ptr() : nullptr;
    p.rows = static_cast<int>(part.weight.size(0));
    rows += p.rows;
  }
  a.epilogue = kernel_epilogue(epilogue);
  const int64_t outputs = epilogue == GemvEpilogue::kGatedSilu ? rows / 2 : rows;
  auto sizes = x.sizes().vec();
  sizes.back() = outputs;
  const torch::Tensor y = torch::empty(sizes, x.options());
  torch::Tensor rc;
  if (epilogue == GemvEpilogue::kResidual) {
    rc = residual.contiguous();
    a.residual = rc.data_ptr();
    a.residual_row_stride = outputs;
  }
  a.cap = static_cast<float>(cap);
  a.y = y.data_ptr();
  check_launch(kGemvWhere, gemv_kern::gemv(a, at::cuda::getCurrentCUDAStream()));
  return y;
}

}  // namespace xlstm::ops::detail
