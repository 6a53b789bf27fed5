#include "xlstm/ops/linear_cross_entropy.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include "xlstm/components/dtype.h"

namespace xlstm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

int64_t rows_per_chunk(int64_t requested, int64_t vocab) {
  return requested > 0 ? requested : std::max<int64_t>(1, (int64_t(1) << 26) / vocab);
}

/// The cross entropy's dtype: float32 for 16-bit products (as sequence_cross_entropy), else theirs.
torch::ScalarType loss_dtype(torch::ScalarType compute) {
  return compute == torch::kHalf || compute == torch::kBFloat16 ? torch::kFloat32 : compute;
}

/// Inputs hidden [N, D], weight [V, D], targets [N]; saves hidden, weight, targets, the per-row
/// log-sum-exp and the count of counted targets.
struct LinearCrossEntropyFunction : torch::autograd::Function<LinearCrossEntropyFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& targets,
                               int64_t ignore_index, int64_t chunk_rows, int64_t compute) {
    // The products in `compute` whatever autocast would pick (the backward runs outside it).
    const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const auto dtype = static_cast<torch::ScalarType>(compute);
    const torch::Tensor h = hidden.to(dtype), w = weight.to(dtype);
    const int64_t rows = h.size(0), step = rows_per_chunk(chunk_rows, w.size(0));
    const torch::Tensor counted = targets.ne(ignore_index);
    const torch::Tensor safe_targets = targets.masked_fill(counted.logical_not(), 0);
    torch::Tensor lse = torch::empty({rows}, hidden.options().dtype(loss_dtype(dtype)));
    torch::Tensor loss_sum = torch::zeros({}, lse.options());
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
      const int64_t n = std::min(step, rows - r0);
      const torch::Tensor logits = torch::matmul(h.narrow(0, r0, n), w.t());
      const torch::Tensor target = safe_targets.narrow(0, r0, n).unsqueeze(1);
      // One fused pass: log_softmax in loss_dtype; the row's log-sum-exp (for the backward) is
      // its target's logit minus its log-probability.
      const torch::Tensor log_p = torch::log_softmax(logits, 1, loss_dtype(dtype));
      const torch::Tensor picked_log_p = log_p.gather(1, target).squeeze(1);
      const torch::Tensor picked_logit = logits.gather(1, target).squeeze(1).to(lse.scalar_type());
      lse.narrow(0, r0, n).copy_(picked_logit - picked_log_p);
      loss_sum -= (picked_log_p * counted.narrow(0, r0, n)).sum();
    }
    const torch::Tensor count = counted.sum().to(lse.scalar_type());
    ctx->save_for_backward({hidden, weight, safe_targets, counted, lse, count});
    ctx->saved_data["chunk_rows"] = step;
    ctx->saved_data["compute"] = compute;
    return loss_sum / count;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    const torch::Tensor &hidden = s[0], &weight = s[1], &targets = s[2], &counted = s[3],
                        &lse = s[4], &count = s[5];
    const auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["compute"].toInt());
    const int64_t step = ctx->saved_data["chunk_rows"].toInt();
    const torch::Tensor h = hidden.to(dtype), w = weight.to(dtype);
    const int64_t rows = h.size(0);
    const torch::Tensor scale = grads[0].to(lse.scalar_type()) / count;
    torch::Tensor dh = torch::empty_like(h);
    torch::Tensor dw = torch::zeros(weight.sizes(), weight.options().dtype(lse.scalar_type()));
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
      const int64_t n = std::min(step, rows - r0);
      // d loss / d logits = (softmax - one-hot) * [counted] / count, in three passes over the
      // chunk: logits - lse (taken to loss_dtype by promotion), exp, the scale written in dtype.
      torch::Tensor softmax =
          torch::sub(torch::matmul(h.narrow(0, r0, n), w.t()), lse.narrow(0, r0, n).unsqueeze(1))
              .exp_();
      softmax.scatter_add_(1, targets.narrow(0, r0, n).unsqueeze(1),
                           torch::full({n, 1}, -1.0, softmax.options()));
      torch::Tensor d = torch::empty(softmax.sizes(), softmax.options().dtype(dtype));
      torch::mul_out(d, softmax, counted.narrow(0, r0, n).unsqueeze(1) * scale);
      dh.narrow(0, r0, n).copy_(torch::matmul(d, w));
      dw.add_(torch::matmul(d.t(), h.narrow(0, r0, n)));
    }
    return {dh.to(hidden.scalar_type()),
            dw.to(weight.scalar_type()),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor linear_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                   const torch::Tensor& targets,
                                   const LinearCrossEntropyOptions& options) {
  TORCH_CHECK(weight.dim() == 2 && hidden.dim() >= 1 && hidden.size(-1) == weight.size(1),
              "linear_cross_entropy: hidden ", hidden.sizes(), " does not match weight ",
              weight.sizes(), " (expected hidden [..., D] and weight [V, D])");
  TORCH_CHECK(targets.dim() == hidden.dim() - 1 &&
                  targets.sizes() == hidden.sizes().slice(0, targets.dim()),
              "linear_cross_entropy: targets ", targets.sizes(), " do not match hidden ",
              hidden.sizes(), " (expected targets [...] with hidden [..., D])");
  const torch::ScalarType compute = options.compute_dtype.value_or(compute_dtype(hidden));
  const torch::Tensor flat_targets = targets.reshape({-1}).to(hidden.device(), torch::kLong);
  return LinearCrossEntropyFunction::apply(hidden.reshape({-1, hidden.size(-1)}), weight,
                                           flat_targets, options.ignore_index, options.chunk_rows,
                                           static_cast<int64_t>(compute));
}

}  // namespace xlstm::ops
