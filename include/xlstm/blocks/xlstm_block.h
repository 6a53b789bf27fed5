// xLSTMBlock (Python: blocks/xlstm_block.py): pre-LayerNorm, an mLSTM or sLSTM layer with a
// residual connection, then an optional pre-LayerNorm gated feed-forward with a residual
// connection.
#pragma once

#include <utility>
#include <variant>

#include <torch/torch.h>

#include "xlstm/blocks/mlstm/layer.h"
#include "xlstm/blocks/slstm/layer.h"
#include "xlstm/components/feedforward.h"
#include "xlstm/components/ln.h"
#include "xlstm/config/xlstm.h"

namespace xlstm {

/// The recurrent state of one block: empty (zero state), an mLSTM state or an sLSTM state.
using BlockState = std::variant<std::monostate, mLSTMState, sLSTMState>;

/// `state` moved to `device` (and `dtype`, if given).
BlockState block_state_to(const BlockState& state, torch::Device device,
                          c10::optional<torch::ScalarType> dtype = c10::nullopt);
/// `state` cut from the autograd graph (for truncated backpropagation through time).
BlockState block_state_detach(const BlockState& state);

class xLSTMBlockImpl : public torch::nn::Module {
 public:
  explicit xLSTMBlockImpl(xLSTMBlockConfig config);

  /// [B, S, D] -> [B, S, D] over the whole sequence from a zero state.
  torch::Tensor forward(const torch::Tensor& x);
  /// The same, continuing from `state` (empty = zero state) and returning the final state.
  std::pair<torch::Tensor, BlockState> forward_with_state(const torch::Tensor& x,
                                                          const BlockState& state = {});
  /// One position [B, 1, D].
  std::pair<torch::Tensor, BlockState> step(const torch::Tensor& x, const BlockState& state = {});
  /// One position, updating the layer's preallocated `state` in place (see the layers'
  /// step_in_place).
  torch::Tensor step_in_place(const torch::Tensor& x, const BlockState& state);
  void reset_parameters();

  bool is_mlstm() const { return !mlstm_layer.is_empty(); }

  xLSTMBlockConfig config;
  LayerNorm xlstm_norm{nullptr};
  mLSTMLayer mlstm_layer{nullptr};  // registered as "xlstm" when this is an mLSTM block
  sLSTMLayer slstm_layer{nullptr};  // registered as "xlstm" when this is an sLSTM block
  LayerNorm ffn_norm{nullptr};
  GatedFeedForward ffn{nullptr};

 private:
  torch::Tensor feedforward_residual(const torch::Tensor& x);
  /// Runs `call(layer, normed_x, layer_state)` on this block's layer, then the residual and FFN.
  template <class Call>
  std::pair<torch::Tensor, BlockState> mix_with_state(const torch::Tensor& x,
                                                      const BlockState& state, Call call);
};
TORCH_MODULE(xLSTMBlock);

}  // namespace xlstm
