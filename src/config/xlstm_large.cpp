#include "xlstm/config/xlstm_large.h"

#include <cmath>

#include "check.h"

namespace xlstm::large {
using namespace config_check;

namespace {

const std::vector<std::string> kChunkwiseKernels = {
    "chunkwise--native_autograd",    "chunkwise--native_custbw",  "chunkwise--triton_limit_chunk",
    "chunkwise--triton_xl_chunk",    "parallel--native_autograd", "parallel--native_custbw",
    "parallel--triton_limit_headdim"};
const std::vector<std::string> kDtypes = {"float32", "bfloat16", "float16"};

bool is_parallel(const std::string& kernel) {
  return kernel.rfind("parallel--", 0) == 0;
}

}  // namespace

void xLSTMLargeConfig::finalize() const {
  positive(embedding_dim, "embedding_dim");
  positive(num_heads, "num_heads");
  positive(num_blocks, "num_blocks");
  positive(vocab_size, "vocab_size");
  finite_at_least(norm_eps, 0.0, false, "norm_eps");
  finite_at_least(eps, 0.0, false, "eps");
  finite_at_least(qk_dim_factor, 0.0, true, "qk_dim_factor");
  finite_at_least(v_dim_factor, 0.0, true, "v_dim_factor");
  finite_at_least(ffn_proj_factor, 0.0, true, "ffn_proj_factor");
  positive(ffn_round_up_to_multiple_of, "ffn_round_up_to_multiple_of");
  positive(chunk_size, "chunk_size");
  if (gate_soft_cap) finite_at_least(*gate_soft_cap, 0.0, true, "gate_soft_cap");
  if (output_logit_soft_cap)
    finite_at_least(*output_logit_soft_cap, 0.0, true, "output_logit_soft_cap");
  if (chunkwise_kernel.find("siging") != std::string::npos ||
      chunkwise_kernel.find("stablef") != std::string::npos)
    throw ConfigError("chunkwise_kernel", "'" + chunkwise_kernel +
                                              "' computes another mLSTM (sigmoid input gate or "
                                              "stabilised forget gate), which is not implemented");
  one_of(chunkwise_kernel, kChunkwiseKernels, "chunkwise_kernel");
  one_of(sequence_kernel, {"native_sequence__native", "native_sequence__triton"},
         "sequence_kernel");
  one_of(step_kernel, {"native", "triton"}, "step_kernel");
  one_of(mode, {"train", "train_with_padding", "inference"}, "mode");
  one_of(autocast_kernel_dtype, kDtypes, "autocast_kernel_dtype");
  one_of(inference_state_dtype, kDtypes, "inference_state_dtype");
  one_of(weight_mode, {"single", "fused"}, "weight_mode");
  // mLSTMBackendConfig.__post_init__
  require(!(return_last_states && is_parallel(chunkwise_kernel)), "return_last_states",
          "is not supported with parallel kernels ('" + chunkwise_kernel + "')");
  require(!(return_last_states && mode == "train_with_padding"), "return_last_states",
          "is not supported with mode 'train_with_padding'");
  positive(qk_dim(), "qk_dim_factor");
  positive(v_dim(), "v_dim_factor");
  divides(num_heads, qk_dim(), "num_heads", "int(embedding_dim * qk_dim_factor)");
  divides(num_heads, v_dim(), "num_heads", "int(embedding_dim * v_dim_factor)");
  positive(ffn_dim(), "ffn_proj_factor");
}

int xLSTMLargeConfig::qk_dim() const {
  return int_size(std::trunc(embedding_dim * qk_dim_factor), "qk_dim_factor");
}

int xLSTMLargeConfig::v_dim() const {
  return int_size(std::trunc(embedding_dim * v_dim_factor), "v_dim_factor");
}

int xLSTMLargeConfig::ffn_dim() const {
  // Python round_up_to_next_multiple_of: ((x + m - 1) // m) * m on the float x.
  const double m = ffn_round_up_to_multiple_of;
  return int_size(std::floor((embedding_dim * ffn_proj_factor + m - 1) / m) * m, "ffn_proj_factor");
}

bool xLSTMLargeConfig::starts_from_zero_state() const {
  return mode == "inference" || !is_parallel(chunkwise_kernel);
}

}  // namespace xlstm::large
