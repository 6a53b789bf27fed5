// The sLSTM layer (Python blocks/slstm/layer.py): causal conv + SiLU, four headwise gate
// projections, the sLSTM cell, a multi-head group norm.
#pragma once

#include <utility>

#include <torch/torch.h>

#include "xlstm/blocks/sequence_layer.h"
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
  /// Every defined tensor moved to `device` (and cast to `dtype` when given).
  sLSTMState to(torch::Device device, c10::optional<torch::ScalarType> dtype = {}) const;
  /// Every defined tensor detached from the autograd graph (truncated backpropagation).
  sLSTMState detach() const;
};
// step_in_place takes a preallocated state: y, c, n, m (and conv with a conv) defined and
// contiguous, e.g. a forward_with_state result cloned.

/// forward / forward_with_state / step (SequenceLayer) on x [B, S, D].
class sLSTMLayerImpl : public SequenceLayer<sLSTMState> {
 public:
  explicit sLSTMLayerImpl(sLSTMLayerConfig config);

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
  /// The layer on x [B, S, D] from `state` (the recurrence makes kForward and kWithState alike;
  /// kStep and kStepInPlace use the convolution's step form).
  std::pair<torch::Tensor, sLSTMState> run(const torch::Tensor& x, const sLSTMState& state,
                                           RunMode mode) override;
  /// Whether the step can take ops::slstm::layer_step_cpu: CPU, float32 / float64 throughout, a
  /// depthwise conv or none, no active dropout, and no gradient needed.
  bool fused_step_applies(const torch::Tensor& x, const sLSTMState& state) const;
  /// ops::slstm::layer_step_cpu on this layer's weights; `in_place`: the next state written into
  /// `state`'s tensors.
  std::pair<torch::Tensor, sLSTMState> fused_step(const torch::Tensor& x, const sLSTMState& state,
                                                  bool in_place) const;
  /// Throws unless `state` is a preallocated state for a batch of `batch` (step_in_place).
  void check_in_place_state(const sLSTMState& state, int64_t batch) const;
};
TORCH_MODULE(sLSTMLayer);

}  // namespace xlstm
