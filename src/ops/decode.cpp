#include "xlstm/ops/decode.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "decode_cuda.h"
#include "kernel_switch.h"
#include "mlstm/common.h"
#include "mlstm/recurrent_step_cuda.h"
#include "xlstm/ops/norms.h"

namespace xlstm::ops {
namespace {

torch::Tensor decode_aten_linear(const torch::Tensor& x, const LinearWeights& map) {
  return torch::linear(x, map.weight, map.bias);
}

#ifdef XLSTM_WITH_CUDA
using detail::GemvEpilogue;

bool decode_kernels_enabled() {
  return kernels_switched_on("XLSTM_DECODE_KERNELS");
}

/// Whether the kernels compute `epilogue(x parts^T)` with this residual (of the output's shape).
bool gemv_takes(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts,
                const torch::Tensor& residual = {}) {
  if (!decode_kernels_take(x, parts)) return false;
  if (!residual.defined()) return true;
  int64_t outputs = 0;
  for (const auto& part : parts) outputs += part.weight.size(0);
  auto sizes = x.sizes().vec();
  sizes.back() = outputs;
  return residual.sizes() == c10::IntArrayRef(sizes) && residual.device() == x.device() &&
         residual.scalar_type() == x.scalar_type() && !residual.requires_grad();
}
#endif

}  // namespace

bool decode_kernels_take(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts) {
#ifdef XLSTM_WITH_CUDA
  return decode_kernels_enabled() && detail::gemv_kernels_apply(x, parts);
#else
  (void)x;
  (void)parts;
  return false;
#endif
}

torch::Tensor linear_concat(const torch::Tensor& x, c10::ArrayRef<LinearWeights> parts) {
  TORCH_CHECK(!parts.empty(), "linear_concat: no linear maps given");
#ifdef XLSTM_WITH_CUDA
  if (gemv_takes(x, parts)) return detail::gemv_cuda(x, parts, GemvEpilogue::kNone, {}, 0);
#endif
  if (parts.size() == 1) return decode_aten_linear(x, parts[0]);
  std::vector<torch::Tensor> outputs;
  for (const auto& part : parts) outputs.push_back(decode_aten_linear(x, part));
  return torch::cat(outputs, -1);
}

torch::Tensor linear_add(const torch::Tensor& x, const LinearWeights& map,
                         const torch::Tensor& residual) {
#ifdef XLSTM_WITH_CUDA
  if (gemv_takes(x, {map}, residual))
    return detail::gemv_cuda(x, {map}, GemvEpilogue::kResidual, residual, 0);
#endif
  return residual + decode_aten_linear(x, map);
}

torch::Tensor linear_gated_silu(const torch::Tensor& x, const LinearWeights& gate,
                                const LinearWeights& up) {
#ifdef XLSTM_WITH_CUDA
  if (gate.weight.defined() && up.weight.defined() && gate.weight.sizes() == up.weight.sizes() &&
      gemv_takes(x, {gate, up}))
    return detail::gemv_cuda(x, {gate, up}, GemvEpilogue::kGatedSilu, {}, 0);
#endif
  return gated_silu(decode_aten_linear(x, gate), decode_aten_linear(x, up));
}

torch::Tensor linear_soft_cap(const torch::Tensor& x, const LinearWeights& map, double cap) {
  TORCH_CHECK(cap > 0, "linear_soft_cap: the cap must be positive, got ", cap);
#ifdef XLSTM_WITH_CUDA
  if (gemv_takes(x, {map})) return detail::gemv_cuda(x, {map}, GemvEpilogue::kSoftCap, {}, cap);
#endif
  return soft_cap(decode_aten_linear(x, map), cap);
}

namespace mlstm {

std::pair<torch::Tensor, CellState> recurrent_step_soft_capped(
    const CellState& state, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact,
    std::optional<double> gate_soft_cap, double eps, const CellState* out) {
#ifdef XLSTM_WITH_CUDA
  // The kernels cap a gate in its own dtype, so both gates of one dtype (else ATen caps them).
  const char* where = "recurrent_step_soft_capped";
  if (decode_kernels_enabled() && igate_preact.scalar_type() == fgate_preact.scalar_type()) {
    detail::check_sequence_inputs(where, q, k, v, igate_preact, fgate_preact);
    TORCH_CHECK(q.size(2) == 1, where, ": expects S = 1, got ", q.sizes());
    TORCH_CHECK(state.defined(), where, ": the state must be defined");
    detail::check_state(where, state, q, v);
    if (out) detail::check_state(where, *out, q, v);
    if (detail::step_kernel_applies(state, q, k, v, igate_preact, fgate_preact, out))
      return detail::recurrent_step_cuda(state, q, k, v, igate_preact, fgate_preact, eps, out,
                                         gate_soft_cap.value_or(0));
  }
#endif
  if (!gate_soft_cap)
    return recurrent_step_stabilized(state, q, k, v, igate_preact, fgate_preact, eps, out);
  return recurrent_step_stabilized(state, q, k, v, soft_cap(igate_preact, *gate_soft_cap),
                                   soft_cap(fgate_preact, *gate_soft_cap), eps, out);
}

}  // namespace mlstm
}  // namespace xlstm::ops
