// The field lists of the model config structs, in the order of the Python dataclasses.
#include "xlstm/config/yaml.h"

#include "yaml_fields.h"

namespace xlstm::yaml_detail {
namespace {

template <class Visitor>
void visit_up_proj_fields(Visitor& v, UpProjConfig& c) {
  v("proj_factor", c.proj_factor);
  v("round_proj_up_dim_up", c.round_proj_up_dim_up);
  v("round_proj_up_to_multiple_of", c.round_proj_up_to_multiple_of);
  v("_proj_up_dim", c._proj_up_dim);
}

}  // namespace

template <class Visitor>
void visit_fields(Visitor& v, CausalConv1dConfig& c) {
  v("feature_dim", c.feature_dim);
  v("kernel_size", c.kernel_size);
  v("causal_conv_bias", c.causal_conv_bias);
  v("channel_mixing", c.channel_mixing);
}
XLSTM_YAML_CONFIG(CausalConv1dConfig)

template <class Visitor>
void visit_fields(Visitor& v, LinearHeadwiseExpandConfig& c) {
  v("in_features", c.in_features);
  v("num_heads", c.num_heads);
  v("expand_factor_up", c.expand_factor_up);
  v("_out_features", c._out_features);
  v("bias", c.bias);
  v("trainable_weight", c.trainable_weight);
  v("trainable_bias", c.trainable_bias);
}
XLSTM_YAML_CONFIG(LinearHeadwiseExpandConfig)

template <class Visitor>
void visit_fields(Visitor& v, FeedForwardConfig& c) {
  visit_up_proj_fields(v, c);
  v("act_fn", c.act_fn);
  v("embedding_dim", c.embedding_dim);
  v("dropout", c.dropout);
  v("bias", c.bias);
  v("ff_type", c.ff_type);
  v("_num_blocks", c._num_blocks);
}
XLSTM_YAML_CONFIG(FeedForwardConfig)

template <class Visitor>
void visit_fields(Visitor& v, mLSTMCellConfig& c) {
  v("context_length", c.context_length);
  v("embedding_dim", c.embedding_dim);
  v("num_heads", c.num_heads);
  v("backend", c.backend, Absent::Omit);
}
XLSTM_YAML_CONFIG(mLSTMCellConfig)

template <class Visitor>
void visit_fields(Visitor& v, mLSTMLayerConfig& c) {
  visit_up_proj_fields(v, c);
  v("conv1d_kernel_size", c.conv1d_kernel_size);
  v("qkv_proj_blocksize", c.qkv_proj_blocksize);
  v("num_heads", c.num_heads);
  v("embedding_dim", c.embedding_dim);
  v("bias", c.bias);
  v("dropout", c.dropout);
  v("context_length", c.context_length);
  v("backend", c.backend, Absent::Omit);
  v("_num_blocks", c._num_blocks);
  v("_inner_embedding_dim", c._inner_embedding_dim);
}
XLSTM_YAML_CONFIG(mLSTMLayerConfig)

template <class Visitor>
void visit_fields(Visitor& v, mLSTMBlockConfig& c) {
  v("mlstm", c.mlstm);
  v("_num_blocks", c._num_blocks);
  v("_block_idx", c._block_idx);
}
XLSTM_YAML_CONFIG(mLSTMBlockConfig)

template <class Visitor>
void visit_fields(Visitor& v, sLSTMCellConfig& c) {
  v("hidden_size", c.hidden_size);
  v("num_heads", c.num_heads);
  v("num_states", c.num_states);
  v("backend", c.backend);
  v("function", c.function);
  v("bias_init", c.bias_init);
  v("recurrent_weight_init", c.recurrent_weight_init);
  v("_block_idx", c._block_idx);
  v("_num_blocks", c._num_blocks);
  v("num_gates", c.num_gates);
  v("gradient_recurrent_cut", c.gradient_recurrent_cut);
  v("gradient_recurrent_clipval", c.gradient_recurrent_clipval);
  v("forward_clipval", c.forward_clipval);
  v("batch_size", c.batch_size);
  v("input_shape", c.input_shape);
  v("internal_input_shape", c.internal_input_shape);
  v("output_shape", c.output_shape);
  v("constants", c.constants);
  v("dtype", c.dtype);
  v("dtype_b", c.dtype_b);
  v("dtype_r", c.dtype_r);
  v("dtype_w", c.dtype_w);
  v("dtype_g", c.dtype_g);
  v("dtype_s", c.dtype_s);
  v("dtype_a", c.dtype_a);
  v("enable_automatic_mixed_precision", c.enable_automatic_mixed_precision);
  v("initial_val", c.initial_val);
}
XLSTM_YAML_CONFIG(sLSTMCellConfig)

template <class Visitor>
void visit_fields(Visitor& v, sLSTMLayerConfig& c) {
  visit_fields(v, static_cast<sLSTMCellConfig&>(c));
  v("embedding_dim", c.embedding_dim);
  v("conv1d_kernel_size", c.conv1d_kernel_size);
  v("group_norm_weight", c.group_norm_weight);
  v("dropout", c.dropout);
}
XLSTM_YAML_CONFIG(sLSTMLayerConfig)

template <class Visitor>
void visit_fields(Visitor& v, sLSTMBlockConfig& c) {
  v("slstm", c.slstm);
  v("feedforward", c.feedforward);
  v("_num_blocks", c._num_blocks);
  v("_block_idx", c._block_idx);
}
XLSTM_YAML_CONFIG(sLSTMBlockConfig)

template <class Visitor>
void visit_fields(Visitor& v, xLSTMBlockConfig& c) {
  v("mlstm", c.mlstm, Absent::Omit);
  v("slstm", c.slstm, Absent::Omit);
  v("feedforward", c.feedforward);
  v("_num_blocks", c._num_blocks);
  v("_block_idx", c._block_idx);
}
XLSTM_YAML_CONFIG(xLSTMBlockConfig)

template <class Visitor>
void visit_fields(Visitor& v, xLSTMBlockStackConfig& c) {
  v("mlstm_block", c.mlstm_block, Absent::Omit);
  v("slstm_block", c.slstm_block, Absent::Omit);
  v("context_length", c.context_length);
  v("num_blocks", c.num_blocks);
  v("embedding_dim", c.embedding_dim);
  v("add_post_blocks_norm", c.add_post_blocks_norm);
  v("bias", c.bias);
  v("dropout", c.dropout);
  v("slstm_at", c.slstm_at);
  v("_block_map", c._block_map);
}
XLSTM_YAML_CONFIG(xLSTMBlockStackConfig)

template <class Visitor>
void visit_fields(Visitor& v, xLSTMLMModelConfig& c) {
  visit_fields(v, static_cast<xLSTMBlockStackConfig&>(c));
  v("vocab_size", c.vocab_size);
  v("tie_weights", c.tie_weights);
  v("weight_decay_on_embedding", c.weight_decay_on_embedding);
  v("add_embedding_dropout", c.add_embedding_dropout);
}
XLSTM_YAML_CONFIG(xLSTMLMModelConfig)

}  // namespace xlstm::yaml_detail
