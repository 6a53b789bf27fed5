// The differentiable chunkwise op on the kernels: the forward kernel, which saves what its
// backward needs (kernels/mlstm/chunkwise_kernels.h), and the backward kernel under autograd.
#include <torch/torch.h>

#include "chunkwise_cuda.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::mlstm::detail {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Inputs q, k, v, igate, fgate, C0, n0, m0 (the last three empty: no history; autograd's
/// bookkeeping needs defined inputs); outputs h, C_last, n_last, m_last (m_last not
/// differentiable: the stabiliser is a constant).
struct ChunkwiseKernelFunction : torch::autograd::Function<ChunkwiseKernelFunction> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& igate,
                               const torch::Tensor& fgate, const torch::Tensor& C0,
                               const torch::Tensor& n0, const torch::Tensor& m0, double eps) {
    const CellState initial = C0.numel() > 0 ? CellState{C0, n0, m0} : CellState{};
    ChunkwiseKernelForward out = chunkwise_kernel_forward(q, k, v, igate, fgate, initial,
                                                          /*chunk_size=*/0, eps,
                                                          /*return_last=*/true, /*save=*/true);
    const ChunkwiseKernelSaved& s = out.saved;
    ctx->save_for_backward({q, k, v, igate, fgate, C0, n0, m0, out.h, s.chunk_C, s.chunk_n,
                            s.chunk_m, s.row_m, s.row_den});
    ctx->saved_data["chunk_size"] = s.chunk_size;
    ctx->saved_data["eps"] = eps;
    ctx->mark_non_differentiable({out.last.m});
    return {out.h, out.last.C, out.last.n, out.last.m};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list t = ctx->get_saved_variables();
    const torch::Tensor &q = t[0], &k = t[1], &v = t[2], &igate = t[3], &fgate = t[4];
    const CellState initial = t[5].numel() > 0 ? CellState{t[5], t[6], t[7]} : CellState{};
    const ChunkwiseKernelSaved saved{t[9],  t[10], t[11],
                                     t[12], t[13], ctx->saved_data["chunk_size"].toInt()};
    const torch::Tensor dh = grads[0].defined() ? grads[0] : torch::zeros_like(t[8]);
    const ChunkwiseKernelGradients g = chunkwise_kernel_backward(
        q, k, v, igate, fgate, initial, t[8], saved, dh, CellState{grads[1], grads[2], {}},
        ctx->saved_data["eps"].toDouble());
    const auto like = [](const torch::Tensor& grad, const torch::Tensor& input) {
      return grad.defined() && input.defined() ? grad.to(input.scalar_type()).reshape(input.sizes())
                                               : torch::Tensor();
    };
    return {like(g.dq, q),
            like(g.dk, k),
            like(g.dv, v),
            like(g.digate, igate),
            like(g.dfgate, fgate),
            like(g.dinitial.C, initial.C),
            like(g.dinitial.n, initial.n),
            torch::Tensor(),   // m0: the stabiliser is a constant
            torch::Tensor()};  // eps
  }
};

}  // namespace

std::pair<torch::Tensor, CellState> chunkwise_kernel(const torch::Tensor& q, const torch::Tensor& k,
                                                     const torch::Tensor& v,
                                                     const torch::Tensor& igate_preact,
                                                     const torch::Tensor& fgate_preact,
                                                     const CellState& initial, double eps) {
  if (!needs_grad({q, k, v, igate_preact, fgate_preact, initial.C, initial.n, initial.m})) {
    ChunkwiseKernelForward out =
        chunkwise_kernel_forward(q, k, v, igate_preact, fgate_preact, initial, /*chunk_size=*/0,
                                 eps, /*return_last=*/true, /*save=*/false);
    return {out.h, out.last};
  }
  const torch::Tensor none = torch::empty({0}, q.options().dtype(torch::kFloat));
  const bool given = initial.defined();
  const variable_list out =
      ChunkwiseKernelFunction::apply(q, k, v, igate_preact, fgate_preact, given ? initial.C : none,
                                     given ? initial.n : none, given ? initial.m : none, eps);
  return {out[0], CellState{out[1], out[2], out[3]}};
}

}  // namespace xlstm::ops::mlstm::detail
