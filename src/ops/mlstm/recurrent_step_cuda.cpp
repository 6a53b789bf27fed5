#include "recurrent_step_cuda.h"

#include "../cuda_bridge.h"
#include "../kernel_switch.h"
#include "mlstm/mlstm_kernels.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::mlstm::detail {
namespace {

namespace kern = xlstm::kernels::mlstm;
constexpr const char* kWhere = "mLSTM step kernels";

bool float32_on(const torch::Tensor& t, const torch::Device& device) {
  return t.defined() && t.device() == device && t.scalar_type() == torch::kFloat32;
}

/// x [B, NH, 1, DH] as the kernels read it: each position's heads contiguous (a contiguous
/// tensor, or heads of a slice of a projection output, read in place), else a contiguous copy.
torch::Tensor step_heads_readable(const torch::Tensor& x) {
  const bool in_place =
      (x.stride(3) == 1 || x.size(3) == 1) && (x.stride(1) == x.size(3) || x.size(1) == 1);
  return in_place ? x : x.contiguous();
}

/// A gate [B, NH, 1, 1] as the kernels read it: in its dtype when both gates have that kernel
/// dtype, else in float32.
torch::Tensor step_kernel_gate(const torch::Tensor& gate, const torch::Tensor& other_gate) {
  const auto type = gate.scalar_type();
  return kernel_dtype(type) && other_gate.scalar_type() == type ? gate : gate.to(torch::kFloat32);
}

}  // namespace

bool step_kernel_applies(const CellState& state, const torch::Tensor& q, const torch::Tensor& k,
                         const torch::Tensor& v, const torch::Tensor& igate_preact,
                         const torch::Tensor& fgate_preact, const CellState* out) {
  if (!q.is_cuda() || !kernels_switched_on("XLSTM_MLSTM_STEP_KERNEL")) return false;
  const auto type = q.scalar_type();
  if (!kernel_dtype(type)) return false;
  // Every tensor on q's device (else the ATen path raises its device-mismatch error).
  const auto device = q.device();
  if (k.scalar_type() != type || v.scalar_type() != type || k.device() != device ||
      v.device() != device || igate_preact.device() != device || fgate_preact.device() != device)
    return false;
  if (q.size(3) > kern::kMaxStepHeadDim) return false;
  if (!float32_on(state.C, device) || !float32_on(state.n, device) || !float32_on(state.m, device))
    return false;
  if (out &&
      !(float32_on(out->C, device) && float32_on(out->n, device) && float32_on(out->m, device) &&
        out->C.is_contiguous() && out->n.is_contiguous() && out->m.is_contiguous()))
    return false;
  return !needs_grad({q, k, v, igate_preact, fgate_preact, state.C, state.n, state.m});
}

std::pair<torch::Tensor, CellState> recurrent_step_cuda(
    const CellState& state, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, double eps,
    const CellState* out, double gate_soft_cap) {
  const c10::cuda::CUDAGuard guard(q.device());
  const int64_t B = q.size(0), NH = q.size(1), DV = v.size(3);
  const torch::Tensor qc = step_heads_readable(q), kc = step_heads_readable(k),
                      vc = step_heads_readable(v);
  const torch::Tensor igate = step_kernel_gate(igate_preact, fgate_preact),
                      fgate = step_kernel_gate(fgate_preact, igate_preact);
  const CellState in{state.C.contiguous(), state.n.contiguous(), state.m.contiguous()};
  const CellState next =
      out ? *out
          : CellState{torch::empty_like(in.C), torch::empty_like(in.n), torch::empty_like(in.m)};
  const torch::Tensor h = torch::empty({B, NH, 1, DV}, q.options());
  const torch::Tensor scratch = torch::empty({B * NH * 3}, in.C.options());
  kern::StepArgs a;
  a.batch = static_cast<int>(B);
  a.heads = static_cast<int>(NH);
  a.qk_head_dim = static_cast<int>(q.size(3));
  a.v_head_dim = static_cast<int>(DV);
  a.element_type = element_type(kWhere, q.scalar_type());
  a.q = qc.data_ptr();
  a.k = kc.data_ptr();
  a.v = vc.data_ptr();
  a.q_batch_stride = qc.stride(0);
  a.k_batch_stride = kc.stride(0);
  a.v_batch_stride = vc.stride(0);
  a.gate_element_type = element_type(kWhere, igate.scalar_type());
  a.igate = igate.data_ptr();
  a.fgate = fgate.data_ptr();
  a.igate_batch_stride = igate.stride(0);
  a.igate_head_stride = igate.stride(1);
  a.fgate_batch_stride = fgate.stride(0);
  a.fgate_head_stride = fgate.stride(1);
  a.gate_soft_cap = static_cast<float>(gate_soft_cap);
  a.C_in = in.C.data_ptr<float>();
  a.n_in = in.n.data_ptr<float>();
  a.m_in = in.m.data_ptr<float>();
  a.C_out = next.C.data_ptr<float>();
  a.n_out = next.n.data_ptr<float>();
  a.m_out = next.m.data_ptr<float>();
  a.h = h.data_ptr();
  a.scratch = scratch.data_ptr<float>();
  a.eps = static_cast<float>(eps);
  check_launch(kWhere, kern::step(a, at::cuda::getCurrentCUDAStream()));
  return {h, next};
}

}  // namespace xlstm::ops::mlstm::detail
