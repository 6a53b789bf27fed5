#include "xlstm/config/components.h"

#include <cfenv>
#include <cmath>

#include "check.h"

namespace xlstm {
using namespace config_check;

void UpProjConfig::set_proj_up_dim(int embedding_dim) {
  positive(round_proj_up_to_multiple_of, "round_proj_up_to_multiple_of");
  if (!proj_factor) return;
  require(*proj_factor > 0.0, "proj_factor", "must be positive");
  const double multiplier =
      (*proj_factor * embedding_dim) / static_cast<double>(round_proj_up_to_multiple_of);
  const double rounded = round_proj_up_dim_up ? std::ceil(multiplier) : std::floor(multiplier);
  _proj_up_dim = int_size(rounded * round_proj_up_to_multiple_of, "proj_factor");
}

void CausalConv1dConfig::finalize() {
  non_negative(kernel_size, "kernel_size");
  positive(feature_dim, "feature_dim");
}

void LinearHeadwiseExpandConfig::finalize() {
  positive(num_heads, "num_heads");
  require(num_heads <= in_features, "num_heads", "must be <= in_features");
  divides(num_heads, in_features, "num_heads", "in_features");
  require(expand_factor_up > 0.0, "expand_factor_up", "must be positive");
  // Python's round() rounds halves to even, as does nearbyint in the default rounding mode.
  if (_out_features < 0)
    _out_features = int_size(std::nearbyint(expand_factor_up * in_features), "expand_factor_up");
  divides(num_heads, _out_features, "num_heads", "_out_features");
}

const std::vector<std::string>& feedforward_act_fn_names() {
  static const std::vector<std::string> names = {"gelu",    "relu",  "relu^2",
                                                 "sigmoid", "swish", "selu"};
  return names;
}

void FeedForwardConfig::finalize() {
  one_of(act_fn, feedforward_act_fn_names(), "act_fn");
  one_of(ff_type, {"ffn_gated"}, "ff_type");
  probability(dropout, "dropout");
  positive(_num_blocks, "_num_blocks");
  set_proj_up_dim(embedding_dim);
}

}  // namespace xlstm
