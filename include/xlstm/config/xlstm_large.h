// The configuration of the xLSTM-Large family (Python: xlstm_large/model.py, the dataclass
// xLSTMLargeConfig; the 7B model is embedding_dim 4096, num_heads 8, num_blocks 32, vocab 50304).
#pragma once

#include <optional>
#include <string>

namespace xlstm::large {

/// Every field and default of the Python dataclass. The kernel names take every value the Python
/// literals allow except the sigmoid-input-gate ("siging") and "stablef" variants, which compute
/// another model; whatever the name, this library runs its own kernels (docs/xlstm_large.md): the
/// names only decide the semantics that differ, i.e. whether a sequence without a state starts from
/// a zero state (chunkwise, and mode "inference") or from none (parallel).
struct xLSTMLargeConfig {
  int embedding_dim = -1;
  int num_heads = -1;
  int num_blocks = -1;
  int vocab_size = -1;
  bool use_bias = false;
  double norm_eps = 1e-6;
  bool norm_reduction_force_float32 = true;
  bool add_out_norm = true;

  // mLSTM layer
  double qk_dim_factor = 0.5;
  double v_dim_factor = 1.0;

  // mLSTM backend
  std::string chunkwise_kernel = "chunkwise--triton_limit_chunk";
  std::string sequence_kernel = "native_sequence__triton";
  std::string step_kernel = "triton";
  std::string mode = "train";  ///< train, train_with_padding or inference
  int chunk_size = 64;
  bool return_last_states = false;
  std::string autocast_kernel_dtype = "bfloat16";
  double eps = 1e-6;
  std::string inference_state_dtype = "float32";

  // feedforward
  double ffn_proj_factor = 2.6667;
  int ffn_round_up_to_multiple_of = 64;

  // capping (null: no cap)
  std::optional<double> gate_soft_cap = 15.0;
  std::optional<double> output_logit_soft_cap = 30.0;

  std::string weight_mode = "single";  ///< single or fused

  /// Checks every field (the Python dataclass and mLSTMBackendConfig.__post_init__ checks plus the
  /// divisibility the layers need); throws ConfigError naming the key.
  void finalize() const;

  /// The layer sizes as the Python layers derive them: int(embedding_dim * factor) for q / k and
  /// v (transformers' config properties round these up to 64, but its layers, and so its weight
  /// files, use int() like the official package), and the feedforward's round-up.
  int qk_dim() const;
  int v_dim() const;
  int qk_head_dim() const { return qk_dim() / num_heads; }
  int v_head_dim() const { return v_dim() / num_heads; }
  int ffn_dim() const;
  /// Whether a sequence without a state starts from the zero state C = n = 0, m = 0 (mode
  /// "inference" or a chunkwise kernel) rather than from no state (a parallel kernel in training).
  bool starts_from_zero_state() const;
};

}  // namespace xlstm::large
