#include "xlstm/blocks/slstm/cell.h"

#include <cmath>

#include "xlstm/components/autocast.h"
#include "xlstm/components/choice.h"
#include "xlstm/components/dtype.h"
#include "xlstm/components/init.h"
#include "xlstm/config/error.h"

namespace xlstm {
namespace {

constexpr int64_t kGates = 4;
constexpr int64_t kForgetGate = 1;  // slot order i, f, z, o

/// The official powerlaw_blockdependent forget-gate bias of one head:
/// -(-5 + 12 * (d / (DH - 1))^(0.3 + 1.3 * block_idx / (num_blocks - 1))), in float32 like torch.
torch::Tensor powerlaw_forget_bias(int64_t head_dim, int block_idx, int num_blocks) {
  const double ratio_0_to_1 =
      num_blocks > 1 ? static_cast<double>(block_idx) / static_cast<double>(num_blocks - 1) : 0.0;
  const torch::Tensor position =
      torch::arange(head_dim, torch::kLong).div(head_dim - 1).to(torch::kFloat32);
  return -(-5.0 + 12.0 * position.pow(0.3 + 1.3 * ratio_0_to_1));
}

}  // namespace

sLSTMCellImpl::sLSTMCellImpl(sLSTMCellConfig config_) : config(std::move(config_)) {
  config.finalize();
  backend_ = slstm::backend_from_name(config.backend);
  batch_first_input_ =
      choose<bool>("input_shape", config.input_shape, {{"BSGNH", true}, {"SBGNH", false}});
  output_shape_ = choose<OutputShape>("output_shape", config.output_shape,
                                      {{"BNSH", OutputShape::kBNSH},
                                       {"SBH", OutputShape::kSBH},
                                       {"BSH", OutputShape::kBSH},
                                       {"SBNH", OutputShape::kSBNH}});
  bias_init_ = choose<BiasInit>("bias_init", config.bias_init,
                                {{"powerlaw_blockdependent", BiasInit::kPowerlawBlockdependent},
                                 {"small_init", BiasInit::kSmallInit},
                                 {"standard", BiasInit::kStandard},
                                 {"zeros", BiasInit::kZeros}});
  standard_recurrent_init_ = choose<bool>("recurrent_weight_init", config.recurrent_weight_init,
                                          {{"standard", true}, {"zeros", false}});
  const int64_t NH = config.num_heads, DH = config.head_dim();
  auto options_r = torch::TensorOptions().dtype(torch::kFloat32);
  auto options_b = options_r;
  if (!config.enable_automatic_mixed_precision) {
    options_r = options_r.dtype(dtype_from_name(*config.dtype_r));
    options_b = options_b.dtype(dtype_from_name(*config.dtype_b));
  }
  _recurrent_kernel_ =
      register_parameter("_recurrent_kernel_", torch::empty({NH, kGates * DH, DH}, options_r));
  _bias_ = register_parameter("_bias_", torch::empty({kGates * NH * DH}, options_b));
  reset_parameters();
}

void sLSTMCellImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const int64_t NH = config.num_heads, DH = config.head_dim();
  const double bound = 1.0 / std::sqrt(static_cast<double>(config.hidden_size));
  // External layouts: recurrent matrix [NH, DH_in, G, DH_out], bias [NH, G, DH].
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  torch::Tensor recurrent = torch::zeros({NH, DH, kGates, DH}, f32);
  torch::Tensor bias = torch::zeros({NH, kGates, DH}, f32);
  for (int64_t h = 0; h < NH; ++h) {
    for (int64_t g = 0; g < kGates; ++g) {
      if (standard_recurrent_init_) recurrent.select(0, h).select(1, g).uniform_(-bound, bound);
    }
  }
  for (int64_t h = 0; h < NH; ++h) {
    for (int64_t g = 0; g < kGates; ++g) {
      torch::Tensor b = bias[h][g];
      if (bias_init_ == BiasInit::kPowerlawBlockdependent && g == kForgetGate) {
        b.copy_(powerlaw_forget_bias(DH, config._block_idx, config._num_blocks));
      } else if (bias_init_ == BiasInit::kSmallInit && g == kForgetGate) {
        bias_linspace_init_(b, 3.0, 6.0);
      } else if (bias_init_ == BiasInit::kStandard) {
        b.uniform_(-bound, bound);
      }  // everything else stays zero
    }
  }
  // To the vanilla layouts: R[h, g*DH + out, in] and b[g*H + h*DH + d].
  _recurrent_kernel_.copy_(recurrent.permute({0, 2, 3, 1}).reshape({NH, kGates * DH, DH}));
  _bias_.copy_(bias.permute({1, 0, 2}).reshape(-1));
}

ops::slstm::RecurrenceOptions sLSTMCellImpl::recurrence_options() const {
  ops::slstm::RecurrenceOptions options;
  options.num_heads = config.num_heads;
  options.gradient_recurrent_cut = config.gradient_recurrent_cut;
  options.gradient_recurrent_clipval = config.gradient_recurrent_clipval;
  options.forward_clipval = config.forward_clipval;
  return options;
}

torch::Tensor sLSTMCellImpl::permute_output(const torch::Tensor& y) const {
  const int64_t S = y.size(0), B = y.size(1), NH = config.num_heads, DH = config.head_dim();
  switch (output_shape_) {
    case OutputShape::kSBH:
      return y;
    case OutputShape::kBSH:
      return y.permute({1, 0, 2});
    case OutputShape::kSBNH:
      return y.view({S, B, NH, DH});
    case OutputShape::kBNSH:
      break;
  }
  return y.view({S, B, NH, DH}).permute({1, 2, 0, 3});
}

std::pair<torch::Tensor, torch::Tensor> sLSTMCellImpl::forward(const torch::Tensor& wx,
                                                               const torch::Tensor& state) {
  TORCH_CHECK(wx.dim() == 3 && wx.size(2) == config.input_dim(), "sLSTMCell: expected input [",
              batch_first_input_ ? "B, S, " : "S, B, ", config.input_dim(),
              "] (4 * hidden_size), got ", wx.sizes());
  torch::Tensor wx_sb = batch_first_input_ ? wx.transpose(0, 1) : wx;
  // Under CUDA autocast the official cuda cell (enable_automatic_mixed_precision) casts its input
  // to dtype_w: the recurrence then runs its bf16 / fp16 kernel (states stay float32 inside).
  if (backend_ == slstm::Backend::kCuda && wx.is_cuda() &&
      config.enable_automatic_mixed_precision && cuda_autocast_enabled())
    wx_sb = wx_sb.to(dtype_from_name(*config.dtype_w));
  const int64_t B = wx_sb.size(1);
  torch::Tensor state0 = state;
  if (state0.defined()) {
    TORCH_CHECK(state0.dim() == 3 && state0.size(0) == config.num_states && state0.size(1) == B &&
                    state0.size(2) == config.hidden_size,
                "sLSTMCell: expected state [", config.num_states, ", ", B, ", ", config.hidden_size,
                "], got ", state0.sizes());
  } else {
    state0 = torch::zeros({config.num_states, B, config.hidden_size}, wx_sb.options());
  }
  auto [y, final_state] = slstm::run_recurrence(backend_, wx_sb, state0, _recurrent_kernel_, _bias_,
                                                recurrence_options());
  return {permute_output(y), final_state};
}

std::pair<torch::Tensor, torch::Tensor> sLSTMCellImpl::step(const torch::Tensor& wx,
                                                            const torch::Tensor& state) {
  const int64_t seq_dim = batch_first_input_ ? 1 : 0;
  TORCH_CHECK(wx.dim() == 3 && wx.size(seq_dim) == 1,
              "sLSTMCell::step: expected one position, got ", wx.sizes());
  return forward(wx, state);
}

}  // namespace xlstm
