// The `cuda` sLSTM recurrence: a torch::autograd::Function around the persistent kernels of
// kernels/slstm. R and b are regrouped into the kernels' float32 layouts here; the weight gradients
// are reductions over the gate gradients that the backward kernel returns (cuBLAS / ATen).
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "../cuda_bridge.h"
#include "recurrence_checks.h"
#include "slstm/slstm_kernels.h"
#include "xlstm/ops/slstm_recurrence.h"
#include "xlstm/ops/tensor_utils.h"

namespace xlstm::ops::slstm {
namespace {

namespace kern = xlstm::kernels::slstm;
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr const char* kWhere = "sLSTM cuda backend";

kern::Sizes sizes_of(const Tensor& wx, const Tensor& recurrent_kernel) {
  kern::Sizes s;
  s.steps = static_cast<int>(wx.size(0));
  s.batch = static_cast<int>(wx.size(1));
  s.num_heads = static_cast<int>(recurrent_kernel.size(0));
  s.head_dim = static_cast<int>(recurrent_kernel.size(2));
  return s;
}

void check_inputs(const Tensor& wx, const Tensor& state0, const Tensor& r, const Tensor& bias,
                  const RecurrenceOptions& options) {
  for (const Tensor* t : {&wx, &state0, &r, &bias}) check_cuda_tensor(kWhere, *t);
  check_recurrence_inputs(kWhere, wx, state0, r, bias, options);
  TORCH_CHECK(wx.size(1) >= 1, kWhere, ": empty batch, wx ", wx.sizes());
  const std::string why = kern::check_supported(sizes_of(wx, r));
  TORCH_CHECK(why.empty(), kWhere, ": unsupported sizes: ", why);
}

// XLSTM_SLSTM_CUDA_EXCHANGE=cluster lets every kernel exchange through thread-block clusters on
// sm_90, =global none; by default only the tensor-core forward of inference does, where it fits
// (docs/slstm_cuda.md).
std::string exchange_mode() {
  const char* mode = std::getenv("XLSTM_SLSTM_CUDA_EXCHANGE");
  return mode ? mode : "";
}

bool use_cluster() {
  return exchange_mode() == "cluster";
}

// XLSTM_SLSTM_CUDA_TENSOR_CORES=0 keeps the bf16 / fp16 recurrent products (forward R y and
// backward R^T dg) on float32 FMA.
bool use_tensor_cores() {
  const char* mode = std::getenv("XLSTM_SLSTM_CUDA_TENSOR_CORES");
  return mode == nullptr || std::string(mode) != "0";
}

float positive_or_zero(const std::optional<double>& v) {
  return v ? static_cast<float>(*v) : 0.f;
}

struct ForwardResult {
  Tensor y, final_state, saved_states, saved_gates;
};

ForwardResult run_forward(const Tensor& wx_in, const Tensor& state0, const Tensor& r,
                          const Tensor& bias, float forward_clipval, bool save) {
  const kern::Sizes s = sizes_of(wx_in, r);
  const Tensor wx = wx_in.contiguous();
  const auto f32 = wx.options().dtype(torch::kFloat32);
  const Tensor state0_f = state0.to(torch::kFloat32).contiguous();
  const Tensor r_forward = r.to(torch::kFloat32)
                               .view({s.num_heads, 4, s.head_dim, s.head_dim})
                               .permute({0, 2, 1, 3})
                               .contiguous();
  const Tensor bias_f = bias.to(torch::kFloat32).contiguous();
  // The paper's first step from a zero state (m_0 = i~) applies when n_0 is all zero.
  const Tensor start_from_zero = state0_f[2].eq(0).all().to(torch::kInt32);
  ForwardResult out;
  out.y = torch::empty({s.steps, s.batch, wx.size(2) / 4}, wx.options());
  out.final_state = torch::empty({4, s.batch, wx.size(2) / 4}, f32);
  if (save) {
    out.saved_states = torch::empty({s.steps + 1, 4, s.batch, wx.size(2) / 4}, f32);
    out.saved_states[0].copy_(state0_f);
    out.saved_gates = torch::empty({s.steps, 4, s.batch, wx.size(2) / 4}, f32);
  }
  kern::ForwardArgs a;
  a.sizes = s;
  a.element_type = element_type(kWhere, wx.scalar_type());
  a.wx = wx.data_ptr();
  a.r_forward = r_forward.data_ptr<float>();
  a.bias = bias_f.data_ptr<float>();
  a.state0 = state0_f.data_ptr<float>();
  a.start_from_zero = start_from_zero.data_ptr<int>();
  a.y = out.y.data_ptr();
  a.final_state = out.final_state.data_ptr<float>();
  a.saved_states = save ? out.saved_states.data_ptr<float>() : nullptr;
  a.saved_gates = save ? out.saved_gates.data_ptr<float>() : nullptr;
  a.forward_clipval = forward_clipval;
  a.use_cluster = use_cluster();
  a.cluster_for_inference = exchange_mode() != "global";
  a.use_tensor_cores = use_tensor_cores();
  const Tensor ws = workspace(kern::forward_workspace_bytes(s), wx);
  check_launch("sLSTM cuda forward kernel",
               kern::forward(a, ws.data_ptr(), at::cuda::getCurrentCUDAStream()));
  out.final_state = out.final_state.to(state0.scalar_type());
  return out;
}

// dR[h, g*DH + o, i] = sum over the S*B rows n = (t, b) of dg[n, g, h, o] y_{t-1}[n, h, i]. A long
// reduction into a small output: the rows are split into up to 16 chunks, one bmm entry per
// (head, chunk), so that the product fills the GPU (split-K); the chunks are then summed in
// float32.
int64_t split_k_chunks(int64_t rows) {
  int64_t chunks = std::min<int64_t>(16, std::max<int64_t>(1, rows / 1024));
  while (rows % chunks != 0) --chunks;
  return chunks;
}

// y_{t-1} of every row, head-major: [NH, S*B, DH] in `dtype` (states: the saved [S+1, 4, B, H]).
Tensor previous_y_by_head(const Tensor& states, int64_t NH, int64_t DH, torch::ScalarType dtype) {
  const int64_t S = states.size(0) - 1, B = states.size(2);
  return states.narrow(0, 0, S)
      .select(1, 0)
      .view({S, B, NH, DH})
      .permute({2, 0, 1, 3})
      .to(dtype)
      .contiguous()  // (to() keeps a float32 tensor as it is, strides included)
      .view({NH, S * B, DH});
}

// From the float32 dg [S, B, 4H] (float32 kernels): float32 products.
Tensor recurrent_kernel_grad(const Tensor& dg, const Tensor& states, int64_t NH, int64_t DH) {
  const int64_t N = dg.size(0) * dg.size(1), chunks = split_k_chunks(N), rows = N / chunks;
  const Tensor dg_t = dg.view({chunks, rows, 4, NH, DH})
                          .permute({3, 0, 2, 4, 1})
                          .reshape({NH * chunks, 4 * DH, rows});
  const Tensor y_prev =
      previous_y_by_head(states, NH, DH, torch::kFloat32).view({NH * chunks, rows, DH});
  return torch::bmm(dg_t, y_prev).view({NH, chunks, 4 * DH, DH}).sum(1);
}

// From the head-major dg_heads [NH, S*B, 4*DH] in bf16 / fp16 (tensor-core kernel): a tensor-core
// bmm with float32 accumulation, no copy of dg (its transpose is a plain GEMM operand).
Tensor recurrent_kernel_grad_heads(const Tensor& dg_heads, const Tensor& states) {
  const int64_t NH = dg_heads.size(0), N = dg_heads.size(1), K = dg_heads.size(2), DH = K / 4;
  const int64_t chunks = split_k_chunks(N), rows = N / chunks;
  const Tensor y_prev =
      previous_y_by_head(states, NH, DH, dg_heads.scalar_type()).view({NH * chunks, rows, DH});
  return torch::bmm(dg_heads.view({NH * chunks, rows, K}).transpose(1, 2), y_prev)
      .to(torch::kFloat32)
      .view({NH, chunks, K, DH})
      .sum(1);
}

class RecurrenceFunction : public torch::autograd::Function<RecurrenceFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& wx, const Tensor& state0,
                               const Tensor& r, const Tensor& bias, bool cut, double grad_clipval,
                               double forward_clipval) {
    ForwardResult f = run_forward(wx, state0, r, bias, static_cast<float>(forward_clipval), true);
    ctx->save_for_backward({r, f.saved_states, f.saved_gates});
    ctx->saved_data["cut"] = cut;
    ctx->saved_data["grad_clipval"] = grad_clipval;
    ctx->saved_data["wx_dtype"] = static_cast<int64_t>(wx.scalar_type());
    ctx->saved_data["state0_dtype"] = static_cast<int64_t>(state0.scalar_type());
    ctx->saved_data["bias_dtype"] = static_cast<int64_t>(bias.scalar_type());
    ctx->saved_data["bias_sizes"] = bias.sizes();
    return {f.y, f.final_state};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor& r = saved[0];
    const Tensor& states = saved[1];
    const Tensor& gates = saved[2];
    const auto wx_dtype = static_cast<torch::ScalarType>(ctx->saved_data["wx_dtype"].toInt());
    const auto s0_dtype = static_cast<torch::ScalarType>(ctx->saved_data["state0_dtype"].toInt());
    const auto b_dtype = static_cast<torch::ScalarType>(ctx->saved_data["bias_dtype"].toInt());
    const int64_t S = gates.size(0), B = gates.size(2), H = gates.size(3);
    const int64_t NH = r.size(0), DH = r.size(2);
    const auto f32 = states.options();
    const Tensor dy = grads[0].defined() ? grads[0].to(wx_dtype).contiguous()
                                         : torch::zeros({S, B, H}, f32.dtype(wx_dtype));
    const Tensor dfinal = grads[1].defined() ? grads[1].to(torch::kFloat32).contiguous()
                                             : torch::zeros({4, B, H}, f32);
    const Tensor r_backward = r.to(torch::kFloat32).permute({0, 2, 1}).contiguous();
    Tensor dstate0 = torch::empty({4, B, H}, f32);
    kern::BackwardArgs a;
    a.sizes = {static_cast<int>(S), static_cast<int>(B), static_cast<int>(NH),
               static_cast<int>(DH)};
    a.element_type = element_type(kWhere, wx_dtype);
    a.r_backward = r_backward.data_ptr<float>();
    a.saved_states = states.data_ptr<float>();
    a.saved_gates = gates.data_ptr<float>();
    a.dy = dy.data_ptr();
    a.dfinal_state = dfinal.data_ptr<float>();
    a.dstate0 = dstate0.data_ptr<float>();
    a.gradient_recurrent_cut = ctx->saved_data["cut"].toBool();
    a.gradient_recurrent_clipval = static_cast<float>(ctx->saved_data["grad_clipval"].toDouble());
    a.use_cluster = use_cluster();
    a.use_tensor_cores = use_tensor_cores();
    // The tensor-core kernel writes dg in the input dtype (as d wx and head-major), the float32
    // kernels in float32.
    const bool tensor_cores = kern::backward_uses_tensor_cores(a);
    Tensor dg, dg_heads;
    if (tensor_cores) {
      dg = torch::empty({S, B, 4 * H}, f32.dtype(wx_dtype));
      dg_heads = torch::empty({NH, S * B, 4 * DH}, f32.dtype(wx_dtype));
      a.dwx = dg.data_ptr();
      a.dg_heads = dg_heads.data_ptr();
    } else {
      dg = torch::empty({S, B, 4 * H}, f32);
      a.dg = dg.data_ptr<float>();
    }
    const Tensor ws = workspace(kern::backward_workspace_bytes(a.sizes), dstate0);
    check_launch("sLSTM cuda backward kernel",
                 kern::backward(a, ws.data_ptr(), at::cuda::getCurrentCUDAStream()));

    const Tensor dr = (tensor_cores ? recurrent_kernel_grad_heads(dg_heads, states)
                                    : recurrent_kernel_grad(dg, states, NH, DH))
                          .to(r.scalar_type());
    const Tensor db = dg.sum(torch::IntArrayRef{0, 1}, /*keepdim=*/false, torch::kFloat32)
                          .to(b_dtype)
                          .view(ctx->saved_data["bias_sizes"].toIntVector());
    return {dg.to(wx_dtype), dstate0.to(s0_dtype), dr, db, Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace

RecurrenceResult recurrence_cuda(const Tensor& wx, const Tensor& state0,
                                 const Tensor& recurrent_kernel, const Tensor& bias,
                                 const RecurrenceOptions& options) {
  check_inputs(wx, state0, recurrent_kernel, bias, options);
  const c10::cuda::CUDAGuard guard(wx.device());
  const float grad_clip = positive_or_zero(options.gradient_recurrent_clipval);
  const float forward_clip = positive_or_zero(options.forward_clipval);
  if (!needs_grad({wx, state0, recurrent_kernel, bias})) {
    ForwardResult f = run_forward(wx, state0, recurrent_kernel, bias, forward_clip, false);
    return {f.y, f.final_state};
  }
  variable_list out =
      RecurrenceFunction::apply(wx, state0, recurrent_kernel, bias, options.gradient_recurrent_cut,
                                static_cast<double>(grad_clip), static_cast<double>(forward_clip));
  return {out[0], out[1]};
}

}  // namespace xlstm::ops::slstm
