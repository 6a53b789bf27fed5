#include "xlstm/blocks/slstm/checkpoint_layout.h"

#include "xlstm/blocks/slstm/cell.h"

#include <algorithm>
#include <string>

namespace xlstm {
using io::TensorMap;

namespace {

constexpr int64_t kNumGates = 4;  // i, f, z, o
const std::string kKernelName = "_recurrent_kernel_";
const std::string kBiasName = "_bias_";

void check_kernel(const torch::Tensor& kernel, int64_t num_heads, SlstmLayout layout) {
  TORCH_CHECK(kernel.dim() == 3 && kernel.size(0) == num_heads,
              "sLSTM recurrent kernel: expected [", num_heads, ", ., .], got ", kernel.sizes());
  TORCH_CHECK(slstm_layout_of(kernel) == layout, "sLSTM recurrent kernel of shape ", kernel.sizes(),
              " is not in the ",
              layout == SlstmLayout::cuda ? "cuda [NH, DH, 4*DH]" : "vanilla [NH, 4*DH, DH]",
              " layout");
}

// Reorders a [4*H] bias from (a, b, d) to (b, a, d) order, where (a, b) are (gate, head) sizes.
torch::Tensor swap_bias_blocks(const torch::Tensor& bias, int64_t a, int64_t b) {
  TORCH_CHECK(bias.dim() == 1 && bias.numel() % (a * b) == 0 && bias.numel() > 0,
              "sLSTM bias: expected a non-empty [4*H] tensor divisible into ", kNumGates,
              " gates x heads, got ", bias.sizes());
  return bias.reshape({a, b, -1}).permute({1, 0, 2}).reshape({-1}).contiguous();
}

bool is_kernel_key(const std::string& key) {
  if (key.size() < kKernelName.size() ||
      key.compare(key.size() - kKernelName.size(), kKernelName.size(), kKernelName) != 0)
    return false;
  return key.size() == kKernelName.size() || key[key.size() - kKernelName.size() - 1] == '.';
}

std::string bias_key_of(const std::string& kernel_key) {
  return kernel_key.substr(0, kernel_key.size() - kKernelName.size()) + kBiasName;
}

// Converts the cell whose kernel is at `kernel_key` in `tensors` to layout `to`, in place.
void convert_cell(TensorMap& tensors, const std::string& kernel_key, SlstmLayout to) {
  const torch::Tensor kernel = tensors.at(kernel_key);
  const auto from = slstm_layout_of(kernel);
  TORCH_CHECK(from.has_value(), "'", kernel_key, "' of shape ", kernel.sizes(),
              " is neither an sLSTM vanilla [NH, 4*DH, DH] nor cuda [NH, DH, 4*DH] kernel");
  if (*from == to) return;
  const int64_t num_heads = kernel.size(0);
  const bool to_vanilla = to == SlstmLayout::vanilla;
  tensors[kernel_key] = to_vanilla ? slstm_recurrent_kernel_cuda_to_vanilla(kernel, num_heads)
                                   : slstm_recurrent_kernel_vanilla_to_cuda(kernel, num_heads);
  const auto bias = tensors.find(bias_key_of(kernel_key));
  if (bias == tensors.end()) return;
  const int64_t head_dim = std::min(kernel.size(1), kernel.size(2));
  TORCH_CHECK(bias->second.numel() == kNumGates * num_heads * head_dim, "'", bias->first,
              "' of shape ", bias->second.sizes(), " does not fit the recurrent kernel of shape ",
              kernel.sizes());
  bias->second = to_vanilla ? slstm_bias_cuda_to_vanilla(bias->second, num_heads)
                            : slstm_bias_vanilla_to_cuda(bias->second, num_heads);
}

}  // namespace

std::optional<SlstmLayout> slstm_layout_of(const torch::Tensor& k) {
  if (k.dim() != 3 || k.size(1) == 0 || k.size(2) == 0) return std::nullopt;
  if (k.size(1) == kNumGates * k.size(2)) return SlstmLayout::vanilla;
  if (k.size(2) == kNumGates * k.size(1)) return SlstmLayout::cuda;
  return std::nullopt;
}

// vanilla R[h, g*DH + out, in] = cuda R[h, in, g*DH + out]: a transpose of the last two dims.
torch::Tensor slstm_recurrent_kernel_cuda_to_vanilla(const torch::Tensor& kernel,
                                                     int64_t num_heads) {
  check_kernel(kernel, num_heads, SlstmLayout::cuda);
  return kernel.transpose(1, 2).contiguous();
}

torch::Tensor slstm_recurrent_kernel_vanilla_to_cuda(const torch::Tensor& kernel,
                                                     int64_t num_heads) {
  check_kernel(kernel, num_heads, SlstmLayout::vanilla);
  return kernel.transpose(1, 2).contiguous();
}

torch::Tensor slstm_bias_cuda_to_vanilla(const torch::Tensor& bias, int64_t num_heads) {
  return swap_bias_blocks(bias, num_heads, kNumGates);
}

torch::Tensor slstm_bias_vanilla_to_cuda(const torch::Tensor& bias, int64_t num_heads) {
  return swap_bias_blocks(bias, kNumGates, num_heads);
}

TensorMap convert_slstm_layout(const TensorMap& tensors, SlstmLayout to) {
  TensorMap out = tensors;
  for (const auto& [key, tensor] : tensors)
    if (is_kernel_key(key)) convert_cell(out, key, to);
  return out;
}

void match_slstm_cell_layout(TensorMap& checkpoint, const std::string& prefix,
                             const torch::Tensor& own_kernel) {
  const std::string key = prefix + kKernelName;
  const auto found = checkpoint.find(key);
  if (found == checkpoint.end()) return;
  const torch::Tensor& kernel = found->second;
  const auto target = slstm_layout_of(own_kernel);
  const auto source = slstm_layout_of(kernel);
  // Only a genuine layout difference: a kernel of other sizes is left for the shape check.
  if (target && source && *target != *source &&
      own_kernel.sizes() == kernel.transpose(1, 2).sizes())
    convert_cell(checkpoint, key, *target);
}

void sLSTMCellImpl::adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const {
  match_slstm_cell_layout(checkpoint, prefix, _recurrent_kernel_);
}

}  // namespace xlstm
