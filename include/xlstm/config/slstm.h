// Configuration structs of the sLSTM blocks (Python: blocks/slstm/{cell,layer,block}.py).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xlstm/config/components.h"

namespace xlstm {

struct sLSTMCellConfig {
  int hidden_size = -1;
  int num_heads = 4;
  int num_states = 4;            // derived from `function`
  std::string backend = "cuda";  // "vanilla" | "cuda"
  std::string function = "slstm";
  std::string bias_init = "powerlaw_blockdependent";  // | "small_init" | "standard" | "zeros"
  std::string recurrent_weight_init = "zeros";        // | "standard"

  int _block_idx = 0;
  int _num_blocks = 1;

  int num_gates = 4;
  bool gradient_recurrent_cut = false;
  std::optional<double> gradient_recurrent_clipval;
  std::optional<double> forward_clipval;

  int batch_size = 8;
  std::string input_shape = "BSGNH";
  std::string internal_input_shape = "SBNGH";
  std::string output_shape = "BNSH";

  std::map<std::string, double> constants;
  std::string dtype = "bfloat16";
  std::optional<std::string> dtype_b = std::string("float32");  // biases
  std::optional<std::string> dtype_r;                           // recurrent matrix
  std::optional<std::string> dtype_w;                           // inputs
  std::optional<std::string> dtype_g;                           // gates
  std::optional<std::string> dtype_s;                           // states
  std::optional<std::string> dtype_a;                           // accumulation

  bool enable_automatic_mixed_precision = true;
  std::vector<double> initial_val = {0.0};  // a float or a sequence of floats in Python

  int head_dim() const { return hidden_size / num_heads; }
  int input_dim() const { return 4 * hidden_size; }

  void finalize();
};

struct sLSTMLayerConfig : sLSTMCellConfig {
  int embedding_dim = -1;
  int conv1d_kernel_size = 4;  // 0 = no convolution
  bool group_norm_weight = true;
  double dropout = 0.0;

  /// Python: hidden_size = embedding_dim, then the cell's `__post_init__`.
  void finalize();
};

struct sLSTMBlockConfig {
  sLSTMLayerConfig slstm;
  std::optional<FeedForwardConfig> feedforward = FeedForwardConfig{};

  std::optional<int> _num_blocks;
  std::optional<int> _block_idx;

  void finalize();
};

}  // namespace xlstm
