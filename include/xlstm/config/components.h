// Configuration structs of xlstm/components (Python:
// components/{conv,linear_headwise,feedforward}.py and utils.py). Plain C++ without tensors: field
// names, defaults and derived values follow the Python dataclasses of the official package 2.0.5;
// `finalize()` is their `__post_init__`.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xlstm {

/// Python `UpProjConfigMixin`: the up-projection size, rounded to a multiple.
struct UpProjConfig {
  std::optional<double> proj_factor;
  bool round_proj_up_dim_up = true;
  int round_proj_up_to_multiple_of = 64;

  int _proj_up_dim = -1;  // derived: proj_factor * embedding_dim, rounded to the multiple

  /// Python `_set_proj_up_dim`: ceil (or floor) of proj_factor * embedding_dim / multiple, times
  /// multiple.
  void set_proj_up_dim(int embedding_dim);
};

struct CausalConv1dConfig {
  int feature_dim = -1;
  int kernel_size = 4;  // 0 = identity (no convolution)
  bool causal_conv_bias = true;
  bool channel_mixing = false;

  void finalize();
};

struct LinearHeadwiseExpandConfig {
  int in_features = 0;
  int num_heads = -1;
  double expand_factor_up = 1.0;

  int _out_features = -1;  // derived: round(expand_factor_up * in_features) unless set

  bool bias = true;
  bool trainable_weight = true;
  bool trainable_bias = true;

  void finalize();
};

/// The activation names of the official `_act_fn_registry`.
const std::vector<std::string>& feedforward_act_fn_names();

struct FeedForwardConfig : UpProjConfig {
  FeedForwardConfig() { proj_factor = 1.3; }

  std::string act_fn = "gelu";
  int embedding_dim = -1;
  double dropout = 0.0;
  bool bias = false;
  std::string ff_type = "ffn_gated";

  int _num_blocks = 1;

  void finalize();
};

}  // namespace xlstm
