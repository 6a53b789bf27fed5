// xLSTMBlockStack (Python: xlstm_block_stack.py): num_blocks mLSTM / sLSTM blocks placed by the
// block map, then an optional post-blocks LayerNorm.
#pragma once

#include <utility>
#include <vector>

#include <torch/torch.h>

#include "xlstm/blocks/xlstm_block.h"
#include "xlstm/config/xlstm.h"

namespace xlstm {

/// The recurrent state of a block stack: one BlockState per block, in block order. An empty vector
/// (or empty entries) means the zero state.
struct xLSTMBlockStackState {
  std::vector<BlockState> blocks;

  bool empty() const { return blocks.empty(); }
  xLSTMBlockStackState to(torch::Device device,
                          c10::optional<torch::ScalarType> dtype = c10::nullopt) const;
  xLSTMBlockStackState detach() const;
};

class xLSTMBlockStackImpl : public torch::nn::Module {
 public:
  explicit xLSTMBlockStackImpl(xLSTMBlockStackConfig config);

  /// [B, S, D] -> [B, S, D]. mLSTM blocks run their parallel form (chunkwise past context_length).
  torch::Tensor forward(const torch::Tensor& x);
  /// Continues from `state` and returns the final state (mLSTM blocks run chunkwise), so a sequence
  /// can be processed in pieces.
  std::pair<torch::Tensor, xLSTMBlockStackState> forward_with_state(
      const torch::Tensor& x, const xLSTMBlockStackState& state = {});
  /// One position [B, 1, D].
  std::pair<torch::Tensor, xLSTMBlockStackState> step(const torch::Tensor& x,
                                                      const xLSTMBlockStackState& state = {});
  /// One position, updating a preallocated `state` (every block's tensors defined and contiguous,
  /// e.g. a forward_with_state result cloned) in place: the same numbers as step().
  torch::Tensor step_in_place(const torch::Tensor& x, const xLSTMBlockStackState& state);
  void reset_parameters();

  xLSTMBlockStackConfig config;
  std::vector<xLSTMBlock> blocks;  // registered as "blocks.<i>"
  LayerNorm post_blocks_norm{nullptr};

 private:
  torch::Tensor post_norm(const torch::Tensor& x);
  template <class Call>
  std::pair<torch::Tensor, xLSTMBlockStackState> run_blocks(const torch::Tensor& x,
                                                            const xLSTMBlockStackState& state,
                                                            Call call);
};
TORCH_MODULE(xLSTMBlockStack);

}  // namespace xlstm
