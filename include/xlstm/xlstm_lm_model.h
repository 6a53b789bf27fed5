// xLSTMLMModel (Python: xlstm_lm_model.py): token embedding, optional embedding dropout, the block
// stack and a linear LM head (optionally tied to the embedding).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "xlstm/config/xlstm.h"
#include "xlstm/xlstm_block_stack.h"

namespace xlstm {

/// Parameters split for AdamW: with and without weight decay (each parameter once, tied ones too).
struct WeightDecayGroups {
  std::vector<torch::Tensor> weight_decay, no_weight_decay;
  std::vector<std::string> weight_decay_names, no_weight_decay_names;
};

class xLSTMLMModelImpl : public torch::nn::Module {
 public:
  explicit xLSTMLMModelImpl(xLSTMLMModelConfig config);

  /// Token ids [B, S] (int64) -> logits [B, S, vocab_size].
  torch::Tensor forward(const torch::Tensor& idx);
  /// Continues from `state` and returns the final state (see xLSTMBlockStack::forward_with_state).
  std::pair<torch::Tensor, xLSTMBlockStackState> forward_with_state(
      const torch::Tensor& idx, const xLSTMBlockStackState& state = {});
  /// forward_with_state with the head over the last position only: (logits [B, 1, vocab_size],
  /// the state after the last token), what a prefill for generation needs.
  std::pair<torch::Tensor, xLSTMBlockStackState> last_logits_with_state(
      const torch::Tensor& idx, const xLSTMBlockStackState& state = {});
  /// One position: ids [B, 1] -> logits [B, 1, vocab_size].
  std::pair<torch::Tensor, xLSTMBlockStackState> step(const torch::Tensor& idx,
                                                      const xLSTMBlockStackState& state = {});
  /// One position, updating a preallocated `state` in place (xLSTMBlockStack::step_in_place):
  /// ids [B, 1] -> logits [B, 1, vocab_size], the same numbers as step().
  torch::Tensor step_in_place(const torch::Tensor& idx, const xLSTMBlockStackState& state);
  void reset_parameters();

  /// Python `_create_weight_decay_optim_groups`: parameters whose name contains "weight" but not
  /// "norm" decay, except the token embedding (decays only with weight_decay_on_embedding).
  WeightDecayGroups weight_decay_groups() const;
  /// named_parameters() without the second name of a tied weight (Python's named_parameters()).
  std::vector<std::pair<std::string, torch::Tensor>> unique_named_parameters() const;

  xLSTMLMModelConfig config;
  xLSTMBlockStack xlstm_block_stack{nullptr};
  torch::nn::Embedding token_embedding{nullptr};
  torch::nn::Dropout emb_dropout{nullptr};  // only with add_embedding_dropout
  /// "lm_head" holds one parameter, "weight" [vocab_size, D]: its own, or the embedding's when
  /// tied (then the state dict names both, as Python's does).
  std::shared_ptr<torch::nn::Module> lm_head;
  torch::Tensor lm_head_weight;  // the parameter registered in lm_head

  /// The two ends of forward(): ids [B, S] -> embeddings (dropout included), and the block
  /// stack's output -> logits. ops::linear_cross_entropy(xlstm_block_stack->forward(embed(ids)),
  /// lm_head_weight, targets) is the training loss without the logits in memory.
  torch::Tensor embed(const torch::Tensor& idx);
  torch::Tensor head(const torch::Tensor& x);
};
TORCH_MODULE(xLSTMLMModel);

}  // namespace xlstm
