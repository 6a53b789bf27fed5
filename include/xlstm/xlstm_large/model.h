// xLSTM-Large (Python: xlstm_large/model.py): the architecture of xLSTM-7B. Blocks of
// RMSNorm -> mLSTM layer -> residual, RMSNorm -> gated SiLU feedforward -> residual; a final
// RMSNorm and a soft-capped LM head. The mLSTM layer projects q, k, v and the output gate straight
// from the block input (no up-projection, no convolution) and soft-caps its gate pre-activations.
//
// Every module is built from the finalized xLSTMLargeConfig and a TensorOptions for its
// parameters (device and dtype: a 7B model is created on the GPU in bfloat16 directly), and
// registers its parameters under the Python names, so that named_parameters() equals the official
// state_dict() keys (`embedding.weight`, `backbone.blocks.0.mlstm_layer.q.weight`, ...).
#pragma once

#include <utility>
#include <vector>

#include <torch/torch.h>

#include "xlstm/config/xlstm_large.h"
#include "xlstm/io/checkpoint_adapter.h"
#include "xlstm/ops/decode.h"
#include "xlstm/ops/mlstm.h"
#include "xlstm/xlstm_large/components.h"

namespace xlstm::large {

/// One mLSTM layer's memory: C [B, NH, DHqk, DHv], n [B, NH, DHqk, 1], m [B, NH, 1, 1] in the
/// config's inference_state_dtype. C and n hold the keys scaled by 1/sqrt(DHqk) (the official
/// package scales the queries instead: its C and n are these times sqrt(DHqk)).
using mLSTMLayerState = ops::mlstm::CellState;

/// The model's recurrent state: one mLSTMLayerState per block. Empty: nothing seen yet.
struct xLSTMLargeState {
  std::vector<mLSTMLayerState> blocks;

  bool empty() const { return blocks.empty(); }
  xLSTMLargeState to(const torch::Device& device) const;
  xLSTMLargeState detach() const;
};

/// Python FeedForward: proj_down(silu(proj_up_gate(x)) * proj_up(x)); weight_mode "fused" holds
/// both up-projections in one `proj_up_gate_z` (gate rows first).
class FeedForwardImpl : public torch::nn::Module, public io::CheckpointAdapter {
 public:
  FeedForwardImpl(const xLSTMLargeConfig& config, const torch::TensorOptions& parameter_options);
  torch::Tensor forward(const torch::Tensor& x);
  /// residual + forward(x); the decode step's products, gated SiLU and sum in three kernels on
  /// CUDA (ops/decode.h).
  torch::Tensor forward_plus(const torch::Tensor& x, const torch::Tensor& residual);
  /// silu(gate(x)) * up(x), the input of proj_down.
  torch::Tensor gated_up(const torch::Tensor& x);
  /// A fused module takes a checkpoint of the single weight mode (the official checkpoints are
  /// single): proj_up_gate and proj_up are concatenated into proj_up_gate_z.
  void adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const override;

  int64_t up_proj_dim;
  bool fused;
  Linear proj_up_gate{nullptr}, proj_up{nullptr};  // weight_mode "single"
  Linear proj_up_gate_z{nullptr};                  // weight_mode "fused"
  Linear proj_down{nullptr};
};
TORCH_MODULE(FeedForward);

/// Python mLSTMLayer with its mLSTMBackend: q, k, v, o projections, soft-capped input / forget
/// gate pre-activations per head, the mLSTM cell (ops::mlstm, chunkwise over a sequence and the
/// recurrent step for one position), the multi-head layer norm, the sigmoid output gate and
/// out_proj. weight_mode "fused": `qkv_opreact` (q, k, v, o rows) and `ifgate_preact` (i, f).
class mLSTMLayerImpl : public torch::nn::Module, public io::CheckpointAdapter {
 public:
  mLSTMLayerImpl(const xLSTMLargeConfig& config, const torch::TensorOptions& parameter_options);

  /// x [B, S, D] -> (y [B, S, D], the state after the last position), continuing from `state`
  /// (undefined: the config's start, see xLSTMLargeConfig::starts_from_zero_state). S = 1 with a
  /// defined state is the recurrent step, longer sequences the chunkwise form.
  std::pair<torch::Tensor, mLSTMLayerState> forward(const torch::Tensor& x,
                                                    const mLSTMLayerState& state = {});
  /// One position x [B, 1, D] from a defined `state` that is updated in place (its tensors keep
  /// their storage: a CUDA graph can replay it). The same numbers as forward.
  torch::Tensor step_in_place(const torch::Tensor& x, const mLSTMLayerState& state);
  /// residual + step_in_place(x, state). On CUDA the decode kernels (ops/decode.h) compute it:
  /// every projection in one product, the cell reading its slices in place, out_proj and the sum.
  torch::Tensor step_in_place_plus(const torch::Tensor& x, const mLSTMLayerState& state,
                                   const torch::Tensor& residual);
  /// The zero state (C = n = m = 0) for a batch of `batch`, on `device`.
  mLSTMLayerState zero_state(int64_t batch, const torch::Device& device) const;
  /// A fused module takes a single-mode checkpoint (q, k, v, ogate_preact -> qkv_opreact; igate,
  /// fgate -> ifgate_preact).
  void adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const override;

  xLSTMLargeConfig config;
  int64_t qk_dim, v_dim;
  Linear q{nullptr}, k{nullptr}, v{nullptr}, ogate_preact{nullptr};  // weight_mode "single"
  Linear igate_preact{nullptr}, fgate_preact{nullptr};
  Linear qkv_opreact{nullptr}, ifgate_preact{nullptr};  // weight_mode "fused"
  MultiHeadLayerNorm multihead_norm{nullptr};
  Linear out_proj{nullptr};

 private:
  struct Projections {
    torch::Tensor q, k, v, o, i, f;  // q, k, v [B, NH, S, DH]; o [B, S, v_dim]; i, f [B, NH, S, 1]
  };
  Projections project(const torch::Tensor& x);
  /// The q | k | v | o | i | f projections in this order (two maps fused, six single).
  std::vector<ops::LinearWeights> projection_maps() const;
  /// The step on the decode kernels; residual + output (no residual: undefined).
  torch::Tensor decode_step(const torch::Tensor& x, const mLSTMLayerState& state,
                            const torch::Tensor& residual);
  /// The chunk size of the chunkwise form for `x`: the config's, at least 256 on CUDA.
  int64_t chunk_size_for(const torch::Tensor& x) const;
  /// out_proj of the gated norm of h (+ residual when defined).
  torch::Tensor output(const torch::Tensor& h, const torch::Tensor& o,
                       const torch::Tensor& residual = {});
};
TORCH_MODULE(mLSTMLayer);

/// Python mLSTMBlock: x + mlstm_layer(norm_mlstm(x)), then + ffn(norm_ffn(x)).
class mLSTMBlockImpl : public torch::nn::Module {
 public:
  mLSTMBlockImpl(const xLSTMLargeConfig& config, const torch::TensorOptions& parameter_options);
  std::pair<torch::Tensor, mLSTMLayerState> forward(const torch::Tensor& x,
                                                    const mLSTMLayerState& state = {});
  torch::Tensor step_in_place(const torch::Tensor& x, const mLSTMLayerState& state);

  RMSNorm norm_mlstm{nullptr};
  mLSTMLayer mlstm_layer{nullptr};
  RMSNorm norm_ffn{nullptr};
  FeedForward ffn{nullptr};
};
TORCH_MODULE(mLSTMBlock);

/// Python xLSTMLargeBlockStack: the blocks and, with add_out_norm, the final RMSNorm `out_norm`.
class xLSTMLargeBlockStackImpl : public torch::nn::Module {
 public:
  xLSTMLargeBlockStackImpl(const xLSTMLargeConfig& config,
                           const torch::TensorOptions& parameter_options);
  /// x [B, S, D] -> (y [B, S, D], state), continuing from `state` (empty: nothing seen yet).
  std::pair<torch::Tensor, xLSTMLargeState> forward(const torch::Tensor& x,
                                                    const xLSTMLargeState& state = {});
  torch::Tensor step_in_place(const torch::Tensor& x, const xLSTMLargeState& state);

  torch::nn::ModuleList blocks{nullptr};
  RMSNorm out_norm{nullptr};  // null without add_out_norm

 private:
  torch::Tensor finish(const torch::Tensor& x);
  std::vector<mLSTMBlock> block_list_;
};
TORCH_MODULE(xLSTMLargeBlockStack);

/// Python xLSTMLarge: embedding -> backbone -> lm_head, logits soft-capped by
/// output_logit_soft_cap. Plugs into generation::generate (forward_with_state, step,
/// step_in_place, the StateRows of xLSTMLargeState).
class xLSTMLargeImpl : public torch::nn::Module, public io::CheckpointAdapter {
 public:
  explicit xLSTMLargeImpl(xLSTMLargeConfig config,
                          const torch::TensorOptions& parameter_options = {});

  /// Token ids [B, S] (int64) -> logits [B, S, vocab_size], from the start.
  torch::Tensor forward(const torch::Tensor& ids);
  /// The same, continuing from `state`, with the state after the last token.
  std::pair<torch::Tensor, xLSTMLargeState> forward_with_state(const torch::Tensor& ids,
                                                               const xLSTMLargeState& state = {});
  /// forward_with_state with the head over the last position only: (logits [B, 1, vocab_size],
  /// the state after the last token), what a prefill for generation needs.
  std::pair<torch::Tensor, xLSTMLargeState> last_logits_with_state(
      const torch::Tensor& ids, const xLSTMLargeState& state = {});
  /// One position: ids [B, 1] -> (logits [B, 1, vocab_size], state).
  std::pair<torch::Tensor, xLSTMLargeState> step(const torch::Tensor& ids,
                                                 const xLSTMLargeState& state = {});
  /// One position from a defined `state`, updated in place: logits [B, 1, vocab_size].
  torch::Tensor step_in_place(const torch::Tensor& ids, const xLSTMLargeState& state);
  /// The zero state of every block for a batch of `batch` on the parameters' device.
  xLSTMLargeState zero_state(int64_t batch) const;
  /// Every module's initialisation (PyTorch's defaults, as the Python modules have no own).
  void reset_parameters();
  /// Takes Hugging Face transformers' parameter names: `backbone.embeddings.weight` for
  /// `embedding.weight`, and `query` / `key` / `value` for `q` / `k` / `v`.
  void adapt_checkpoint(io::TensorMap& checkpoint, const std::string& prefix) const override;

  xLSTMLargeConfig config;
  Embedding embedding{nullptr};
  xLSTMLargeBlockStack backbone{nullptr};
  Linear lm_head{nullptr};

 private:
  torch::Tensor head(const torch::Tensor& x);
};
TORCH_MODULE(xLSTMLarge);

}  // namespace xlstm::large
