#include "xlstm/config/slstm.h"

#include "check.h"
#include "xlstm/config/dtype_names.h"

namespace xlstm {
using namespace config_check;

namespace {

void check_dtype(const std::optional<std::string>& dtype, const std::string& key) {
  if (dtype) one_of(*dtype, dtype_names(), key);
}
}  // namespace

void sLSTMCellConfig::finalize() {
  if (num_heads <= 0) num_heads = 1;  // as the official __post_init__ does
  positive(hidden_size, "hidden_size");
  divides(num_heads, hidden_size, "num_heads", "hidden_size");
  one_of(backend, {"vanilla", "cuda"}, "backend");
  one_of(function, {"slstm"}, "function");
  num_states = 4;
  require(num_gates == 4, "num_gates", "the sLSTM has exactly 4 gates");
  one_of(bias_init, {"powerlaw_blockdependent", "small_init", "standard", "zeros"}, "bias_init");
  one_of(recurrent_weight_init, {"zeros", "standard"}, "recurrent_weight_init");
  non_negative(_block_idx, "_block_idx");
  positive(_num_blocks, "_num_blocks");
  require(_block_idx < _num_blocks, "_block_idx", "must be < _num_blocks");
  positive(batch_size, "batch_size");
  one_of(input_shape, {"BSGNH", "SBGNH"}, "input_shape");
  one_of(internal_input_shape, {"SBNGH", "SBGNH", "SBNHG"}, "internal_input_shape");
  one_of(output_shape, {"BNSH", "SBH", "BSH", "SBNH"}, "output_shape");
  if (gradient_recurrent_clipval)
    require(*gradient_recurrent_clipval > 0, "gradient_recurrent_clipval", "must be positive");
  if (forward_clipval) require(*forward_clipval > 0, "forward_clipval", "must be positive");
  require(!initial_val.empty(), "initial_val", "must hold at least one value");
  for (double value : initial_val)
    require(std::isfinite(value), "initial_val", "must be finite, got " + number_text(value));

  // The dtype defaults chain of the official __post_init__.
  one_of(dtype, dtype_names(), "dtype");
  if (!dtype_b) dtype_b = dtype;
  if (!dtype_a) dtype_a = dtype_b;
  if (!dtype_r) dtype_r = dtype;
  if (!dtype_w) dtype_w = dtype;
  if (!dtype_s) dtype_s = dtype_w;
  if (!dtype_g) dtype_g = dtype_r;
  check_dtype(dtype_b, "dtype_b");
  check_dtype(dtype_a, "dtype_a");
  check_dtype(dtype_r, "dtype_r");
  check_dtype(dtype_w, "dtype_w");
  check_dtype(dtype_s, "dtype_s");
  check_dtype(dtype_g, "dtype_g");

  // The official CUDA backend compiles its kernel for dtype_g (gates) and dtype_s (states) and,
  // with automatic mixed precision, casts R to dtype_r and b to dtype_b before calling it. Our
  // recurrences keep R, b, gates and states in float32 (the inputs in their own dtype), so a value
  // other than the one the official defaults derive is refused instead of ignored (docs/slstm.md);
  // without mixed precision dtype_r / dtype_b are the parameters' dtypes, as in the official
  // module.
  const auto derived = [](const std::string& key, const std::string& value,
                          const std::string& expected, bool allowed) {
    require(
        allowed, key,
        "'" + value + "' is not supported: the sLSTM recurrences compute in float32; leave it " +
            "at its default ('" + expected + "', derived from the dtype fields; docs/slstm.md)");
  };
  derived("dtype_g", *dtype_g, *dtype_r, *dtype_g == *dtype_r);
  derived("dtype_s", *dtype_s, *dtype_w, *dtype_s == *dtype_w);
  if (!enable_automatic_mixed_precision) return;
  derived("dtype_r", *dtype_r, dtype, *dtype_r == dtype);
  derived("dtype_b", *dtype_b, "float32", *dtype_b == "float32" || *dtype_b == dtype);
}

void sLSTMLayerConfig::finalize() {
  positive(embedding_dim, "embedding_dim");
  non_negative(conv1d_kernel_size, "conv1d_kernel_size");
  probability(dropout, "dropout");
  hidden_size = embedding_dim;
  if (num_heads > 0) divides(num_heads, embedding_dim, "num_heads", "embedding_dim");
  sLSTMCellConfig::finalize();
}

void sLSTMBlockConfig::finalize() {
  if (_block_idx) slstm._block_idx = *_block_idx;
  if (_num_blocks) slstm._num_blocks = *_num_blocks;
  nested("slstm", [&] { slstm.finalize(); });
  if (feedforward) {
    if (_num_blocks) feedforward->_num_blocks = *_num_blocks;
    feedforward->embedding_dim = slstm.embedding_dim;
    nested("feedforward", [&] { feedforward->finalize(); });
  }
}

}  // namespace xlstm
