// The sLSTM layer (Python blocks/slstm/layer.py): causal conv + SiLU, four headwise gate
// projections, the sLSTM cell, a multi-head group norm.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/blocks/slstm/cell.h"
#include "xlstm/components/conv.h"
#include "xlstm/components/linear_headwise.h"
#include "xlstm/components/ln.h"
#include "xlstm/config/slstm.h"

namespace xlstm {

/// Recurrent state of one sLSTM layer; undefined tensors mean the zero state (start of a sequence).
struct sLSTMState {
  torch::Tensor y, c, n, m;  // each [B, H]
  torch::Tensor conv;        // [B, KS, D]; undefined when conv1d_kernel_size == 0

  /// True when the cell state (y, c, n, m) is set.
  bool defined() const { return y.defined(); }
  sLSTMState to(torch::Device device, c10::optional<torch::ScalarType> dtype = {}) const;
  sLSTMState detach() const;
};

class sLSTMLayerImpl : public torch::nn::Module {
 public:
  explicit sLSTMLayerImpl(sLSTMLayerConfig config);

  /// x [B, S, D] -> [B, S, D], from the zero state.
  torch::Tensor forward(const torch::Tensor& x);
  /// x [B, S, D] continuing from `state` -> (y [B, S, D], the state after the last position).
  std::pair<torch::Tensor, sLSTMState> forward_with_state(const torch::Tensor& x,
                                                          const sLSTMState& state = {});
  /// One position x [B, 1, D] -> (y [B, 1, D], the new state).
  std::pair<torch::Tensor, sLSTMState> step(const torch::Tensor& x, const sLSTMState& state = {});

  /// As the official layer: the cell, the group norm, small_init of the gate projections (the
  /// convolution keeps its initialisation).
  void reset_parameters();

  sLSTMLayerConfig config;
  CausalConv1d conv1d{nullptr};  // null when conv1d_kernel_size == 0
  LinearHeadwiseExpand fgate{nullptr}, igate{nullptr}, zgate{nullptr}, ogate{nullptr};
  sLSTMCell slstm_cell{nullptr};
  MultiHeadLayerNorm group_norm{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  /// The layer on x [B, S, D] from `state`; `single_step` uses the convolution's step form.
  std::pair<torch::Tensor, sLSTMState> run(const torch::Tensor& x, const sLSTMState& state,
                                           bool single_step);
};
TORCH_MODULE(sLSTMLayer);

}  // namespace xlstm
