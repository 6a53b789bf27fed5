// The YAML field list of xLSTMLargeConfig: the official checkpoints' config.yaml (OmegaConf's dump
// of the dataclass, keys in its order).
#include "xlstm/config/xlstm_large.h"
#include "yaml_fields.h"

namespace xlstm::yaml_detail {

template <class Visitor>
void visit_fields(Visitor& v, large::xLSTMLargeConfig& c) {
  v("embedding_dim", c.embedding_dim);
  v("num_heads", c.num_heads);
  v("num_blocks", c.num_blocks);
  v("vocab_size", c.vocab_size);
  v("use_bias", c.use_bias);
  v("norm_eps", c.norm_eps);
  v("norm_reduction_force_float32", c.norm_reduction_force_float32);
  v("add_out_norm", c.add_out_norm);
  v("qk_dim_factor", c.qk_dim_factor);
  v("v_dim_factor", c.v_dim_factor);
  v("chunkwise_kernel", c.chunkwise_kernel);
  v("sequence_kernel", c.sequence_kernel);
  v("step_kernel", c.step_kernel);
  v("mode", c.mode);
  v("chunk_size", c.chunk_size);
  v("return_last_states", c.return_last_states);
  v("autocast_kernel_dtype", c.autocast_kernel_dtype);
  v("eps", c.eps);
  v("inference_state_dtype", c.inference_state_dtype);
  v("ffn_proj_factor", c.ffn_proj_factor);
  v("ffn_round_up_to_multiple_of", c.ffn_round_up_to_multiple_of);
  v("gate_soft_cap", c.gate_soft_cap);
  v("output_logit_soft_cap", c.output_logit_soft_cap);
  v("weight_mode", c.weight_mode);
}
XLSTM_YAML_CONFIG(large::xLSTMLargeConfig)

}  // namespace xlstm::yaml_detail
