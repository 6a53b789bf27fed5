// The tensor bridge of the chunkwise mLSTM backward kernels (chunkwise_cuda.h,
// kernels/mlstm/chunkwise_kernels.h): contiguous operands of the kernels' types in, the gradients
// out.
#include <cmath>

#include "../cuda_bridge.h"
#include "chunkwise_cuda.h"
#include "common.h"
#include "mlstm/chunkwise_kernels.h"

namespace xlstm::ops::mlstm::detail {
namespace {

namespace kern = xlstm::kernels::mlstm;
constexpr const char* kWhere = "chunkwise_kernel_backward";

/// `t` as a contiguous float32 tensor on its device; undefined stays undefined.
torch::Tensor float32_contiguous(const torch::Tensor& t) {
  return t.defined() ? t.to(torch::kFloat32).contiguous() : t;
}

const float* float_data(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<float>() : nullptr;
}

/// Throws unless `t` is a contiguous float32 tensor of `numel` elements (one of the saved ones).
void check_saved(const char* name, const torch::Tensor& t, torch::ScalarType dtype, int64_t numel) {
  TORCH_CHECK(t.defined() && t.is_cuda() && t.scalar_type() == dtype && t.is_contiguous() &&
                  t.numel() == numel,
              kWhere, ": saved.", name, " must be a contiguous CUDA ", dtype, " tensor of ", numel,
              " elements, got ", t.defined() ? t.sizes() : c10::IntArrayRef{});
}

}  // namespace

ChunkwiseKernelGradients chunkwise_kernel_backward(
    const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& igate_preact, const torch::Tensor& fgate_preact, const CellState& initial,
    const torch::Tensor& h, const ChunkwiseKernelSaved& saved, const torch::Tensor& dh,
    const CellState& dlast, double eps, int64_t chunk_size) {
  check_cuda_tensor(kWhere, q);
  check_sequence_inputs(kWhere, q, k, v, igate_preact, fgate_preact);
  const c10::cuda::CUDAGuard guard(q.device());
  const auto dtype = q.scalar_type();
  TORCH_CHECK(k.scalar_type() == dtype && v.scalar_type() == dtype, kWhere,
              ": q, k and v must share one dtype, got ", dtype, ", ", k.scalar_type(), ", ",
              v.scalar_type());
  TORCH_CHECK(h.sizes() == v.sizes() && dh.sizes() == v.sizes(), kWhere, ": h and dh must be ",
              v.sizes(), ", got ", h.sizes(), " and ", dh.sizes());
  const int64_t B = q.size(0), NH = q.size(1), S = q.size(2), DK = q.size(3), DV = v.size(3);
  kern::ChunkwiseShape shape;
  shape.batch = static_cast<int>(B);
  shape.heads = static_cast<int>(NH);
  shape.seq = static_cast<int>(S);
  shape.qk_head_dim = static_cast<int>(DK);
  shape.v_head_dim = static_cast<int>(DV);
  shape.element_type = element_type(kWhere, dtype);
  const int saved_L = static_cast<int>(saved.chunk_size);
  TORCH_CHECK(saved_L > 0, kWhere, ": saved.chunk_size must be positive, got ", saved.chunk_size);
  shape.chunk_size = chunk_size > 0
                         ? static_cast<int>(chunk_size)
                         : kern::chunkwise_backward_preferred_chunk_size(
                               shape.qk_head_dim, shape.v_head_dim, shape.element_type, saved_L);
  TORCH_CHECK(kern::chunkwise_backward_supports(shape, saved_L), kWhere,
              ": the kernels do not take ", dtype, " with DHqk ", DK, ", DHv ", DV,
              " at chunk size ", shape.chunk_size, " on tensors saved at chunk size ", saved_L);
  const bool has_initial = initial.defined();
  ChunkwiseKernelGradients grads;
  const auto f32 = q.options().dtype(torch::kFloat32);
  if (S == 0) {  // nothing runs: the initial memory's gradient is the last one's
    grads.dq = torch::empty_like(q);
    grads.dk = torch::empty_like(k);
    grads.dv = torch::empty_like(v);
    grads.digate = torch::empty({B, NH, 0, 1}, f32);
    grads.dfgate = torch::empty({B, NH, 0, 1}, f32);
    if (has_initial) {
      grads.dinitial.C = dlast.C.defined() ? dlast.C.to(torch::kFloat32).clone()
                                           : torch::zeros({B, NH, DK, DV}, f32);
      grads.dinitial.n = dlast.n.defined() ? dlast.n.to(torch::kFloat32).clone()
                                           : torch::zeros({B, NH, DK, 1}, f32);
    }
    return grads;
  }
  const int64_t NC = (S + saved_L - 1) / saved_L;  // of the saved tensors
  check_saved("chunk_C", saved.chunk_C, dtype, B * NH * NC * DK * DV);
  check_saved("chunk_n", saved.chunk_n, torch::kFloat32, B * NH * NC * DK);
  check_saved("chunk_m", saved.chunk_m, torch::kFloat32, B * NH * NC);
  check_saved("row_m", saved.row_m, torch::kFloat32, B * NH * S);
  check_saved("row_den", saved.row_den, torch::kFloat32, B * NH * S);

  const torch::Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const torch::Tensor hc = h.to(dtype).contiguous(), dhc = dh.to(dtype).contiguous();
  const torch::Tensor igate = float32_contiguous(igate_preact),
                      fgate = float32_contiguous(fgate_preact);
  CellState init;
  if (has_initial) {
    check_state(kWhere, initial, q, v);
    init = {float32_contiguous(initial.C), float32_contiguous(initial.n),
            float32_contiguous(initial.m)};
  }
  const torch::Tensor dC_last = float32_contiguous(dlast.C), dn_last = float32_contiguous(dlast.n);
  TORCH_CHECK(!dC_last.defined() || dC_last.numel() == B * NH * DK * DV, kWhere,
              ": dlast.C must be [", B, ", ", NH, ", ", DK, ", ", DV, "], got ", dC_last.sizes());
  TORCH_CHECK(!dn_last.defined() || dn_last.numel() == B * NH * DK, kWhere, ": dlast.n must be [",
              B, ", ", NH, ", ", DK, ", 1], got ", dn_last.sizes());

  grads.dq = torch::empty_like(qc);
  grads.dk = torch::empty_like(kc);
  grads.dv = torch::empty_like(vc);
  grads.digate = torch::empty({B, NH, S, 1}, f32);
  grads.dfgate = torch::empty({B, NH, S, 1}, f32);
  if (has_initial) {
    grads.dinitial.C = torch::empty({B, NH, DK, DV}, f32);
    grads.dinitial.n = torch::empty({B, NH, DK, 1}, f32);
  }
  const torch::Tensor scratch = workspace(kern::chunkwise_backward_workspace_bytes(shape), q);

  kern::ChunkwiseBackwardArgs a;
  a.shape = shape;
  a.q = qc.data_ptr();
  a.k = kc.data_ptr();
  a.v = vc.data_ptr();
  a.igate = igate.data_ptr<float>();
  a.fgate = fgate.data_ptr<float>();
  if (has_initial) {
    a.C_initial = init.C.data_ptr<float>();
    a.n_initial = init.n.data_ptr<float>();
    a.m_initial = init.m.data_ptr<float>();
    a.dC_initial = grads.dinitial.C.data_ptr<float>();
    a.dn_initial = grads.dinitial.n.data_ptr<float>();
  }
  a.h = hc.data_ptr();
  a.saved.chunk_C = saved.chunk_C.data_ptr();
  a.saved.chunk_n = saved.chunk_n.data_ptr<float>();
  a.saved.chunk_m = saved.chunk_m.data_ptr<float>();
  a.saved.row_m = saved.row_m.data_ptr<float>();
  a.saved.row_den = saved.row_den.data_ptr<float>();
  a.dh = dhc.data_ptr();
  a.dC_last = float_data(dC_last);
  a.dn_last = float_data(dn_last);
  a.dq = grads.dq.data_ptr();
  a.dk = grads.dk.data_ptr();
  a.dv = grads.dv.data_ptr();
  a.digate = grads.digate.data_ptr<float>();
  a.dfgate = grads.dfgate.data_ptr<float>();
  a.workspace = scratch.data_ptr();
  a.eps = static_cast<float>(eps);
  a.saved_chunk_size = saved_L;
  check_launch(kWhere, kern::chunkwise_backward(a, at::cuda::getCurrentCUDAStream()));
  return grads;
}

}  // namespace xlstm::ops::mlstm::detail
