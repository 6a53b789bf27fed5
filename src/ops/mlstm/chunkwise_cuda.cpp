#include "chunkwise_cuda.h"

#include "../cuda_bridge.h"
#include "../kernel_switch.h"
#include "common.h"
#include "mlstm/chunkwise_kernels.h"

namespace xlstm::ops::mlstm::detail {
namespace {

namespace kern = xlstm::kernels::mlstm;
constexpr const char* kWhere = "mLSTM chunkwise kernels";

/// The kernels' shape of q [B, NH, S, DHqk], v [B, NH, S, DHv]; chunk_size <= 0: the preferred.
kern::ChunkwiseShape chunkwise_shape(const torch::Tensor& q, const torch::Tensor& v,
                                     int64_t chunk_size) {
  kern::ChunkwiseShape shape;
  shape.batch = static_cast<int>(q.size(0));
  shape.heads = static_cast<int>(q.size(1));
  shape.seq = static_cast<int>(q.size(2));
  shape.qk_head_dim = static_cast<int>(q.size(3));
  shape.v_head_dim = static_cast<int>(v.size(3));
  shape.element_type = element_type(kWhere, q.scalar_type());
  shape.chunk_size = chunk_size > 0 ? static_cast<int>(chunk_size)
                                    : kern::chunkwise_preferred_chunk_size(
                                          shape.qk_head_dim, shape.v_head_dim, shape.element_type);
  return shape;
}

/// A float32 contiguous copy (or `t` itself when it already is one).
torch::Tensor float32_contiguous(const torch::Tensor& t) {
  return t.to(torch::kFloat32).contiguous();
}

}  // namespace

bool chunkwise_kernel_applies(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, bool backward) {
  if (!q.is_cuda() || !kernels_switched_on("XLSTM_MLSTM_CHUNKWISE_KERNEL") || q.dim() != 4 ||
      v.dim() != 4)
    return false;
  const auto type = q.scalar_type();
  if (!kernel_dtype(type) || k.scalar_type() != type || v.scalar_type() != type ||
      k.device() != q.device() || v.device() != q.device())
    return false;
  if (q.size(2) == 0) return false;
  const kern::ChunkwiseShape shape = chunkwise_shape(q, v, 0);
  return kern::chunkwise_forward_supports(shape) &&
         (!backward || kern::chunkwise_backward_supports(shape));
}

ChunkwiseKernelForward chunkwise_kernel_forward(const torch::Tensor& q, const torch::Tensor& k,
                                                const torch::Tensor& v,
                                                const torch::Tensor& igate_preact,
                                                const torch::Tensor& fgate_preact,
                                                const CellState& initial, int64_t chunk_size,
                                                double eps, bool return_last, bool save) {
  check_sequence_inputs("chunkwise_kernel_forward", q, k, v, igate_preact, fgate_preact);
  check_cuda_tensor(kWhere, q);
  const c10::cuda::CUDAGuard guard(q.device());
  const torch::NoGradGuard no_grad;
  const kern::ChunkwiseShape shape = chunkwise_shape(q, v, chunk_size);
  TORCH_CHECK(kern::chunkwise_forward_supports(shape), kWhere, ": no kernel for q ", q.sizes(),
              ", v ", v.sizes(), ", dtype ", q.scalar_type(), ", chunk size ", shape.chunk_size,
              " (bfloat16 / float16 / float32, head dims 64 .. 512 in steps of 64)");
  TORCH_CHECK(k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type(), kWhere,
              ": q, k and v must share a dtype, got ", q.scalar_type(), ", ", k.scalar_type(), ", ",
              v.scalar_type());
  for (const torch::Tensor* t :
       {&k, &v, &igate_preact, &fgate_preact, &initial.C, &initial.n, &initial.m})
    TORCH_CHECK(!t->defined() || t->device() == q.device(), kWhere,
                ": every input must be on the queries' device ", q.device(), ", got one on ",
                t->device());
  const int64_t B = q.size(0), NH = q.size(1), S = q.size(2), DQ = q.size(3), DV = v.size(3);
  const int64_t NC = shape.num_chunks();
  const torch::Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const torch::Tensor igate = float32_contiguous(igate_preact),
                      fgate = float32_contiguous(fgate_preact);
  CellState start;
  if (initial.defined()) {
    check_state("chunkwise_kernel_forward", initial, q, v);
    start = {float32_contiguous(initial.C), float32_contiguous(initial.n),
             float32_contiguous(initial.m)};
  }

  const auto f32 = q.options().dtype(torch::kFloat32);
  ChunkwiseKernelForward out;
  out.h = torch::empty({B, NH, S, DV}, q.options());
  if (return_last)
    out.last = {torch::empty({B, NH, DQ, DV}, f32), torch::empty({B, NH, DQ, 1}, f32),
                torch::empty({B, NH, 1, 1}, f32)};
  // The per-chunk memory is needed by the kernels' second pass either way: allocated here (the
  // caching allocator) and written in full; returned only when `save` asks for it.
  ChunkwiseKernelSaved saved;
  saved.chunk_C = torch::empty({B, NH, NC, DQ, DV}, q.options());
  saved.chunk_n = torch::empty({B, NH, NC, DQ}, f32);
  saved.chunk_m = torch::empty({B, NH, NC}, f32);
  saved.row_m = torch::empty({B, NH, S}, f32);
  saved.row_den = torch::empty({B, NH, S}, f32);
  saved.chunk_size = shape.chunk_size;

  kern::ChunkwiseForwardArgs a;
  a.shape = shape;
  a.q = qc.data_ptr();
  a.k = kc.data_ptr();
  a.v = vc.data_ptr();
  a.igate = igate.data_ptr<float>();
  a.fgate = fgate.data_ptr<float>();
  if (start.defined()) {
    a.C_initial = start.C.data_ptr<float>();
    a.n_initial = start.n.data_ptr<float>();
    a.m_initial = start.m.data_ptr<float>();
  }
  a.h = out.h.data_ptr();
  if (return_last) {
    a.C_last = out.last.C.data_ptr<float>();
    a.n_last = out.last.n.data_ptr<float>();
    a.m_last = out.last.m.data_ptr<float>();
  }
  a.save = true;
  a.saved = {saved.chunk_C.data_ptr(), saved.chunk_n.data_ptr<float>(),
             saved.chunk_m.data_ptr<float>(), saved.row_m.data_ptr<float>(),
             saved.row_den.data_ptr<float>()};
  a.eps = static_cast<float>(eps);
  check_launch(kWhere, kern::chunkwise_forward(a, at::cuda::getCurrentCUDAStream()));
  if (save) out.saved = saved;
  return out;
}

}  // namespace xlstm::ops::mlstm::detail
