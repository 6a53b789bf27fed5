// Checks of the tensors the binaries read and write: NaN and infinity in weights, inputs and
// outputs (refused on load unless --allow-nonfinite, reported on output), and the inputs a model
// cannot take (an empty sequence, token ids outside the vocabulary), each named with its index.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "model_kinds.h"
#include "xlstm/io/safetensors.h"

namespace xlstm::apps {

/// The NaN and infinite values of a floating-point tensor.
struct NonFinite {
  int64_t count = 0;         ///< how many
  std::string first_index;   ///< of the first, "[1, 17]"
  double first_value = 0.0;  ///< nan, inf or -inf
};

/// nullopt when every value is finite (always for integer tensors).
std::optional<NonFinite> find_nonfinite(const torch::Tensor& tensor);

/// Throws std::runtime_error for the first tensor (in name order) that holds NaN or infinity:
/// "weights 'w.safetensors': tensor 'head.weight' holds 3 non-finite values, the first nan at
/// [0, 2] (refused; --allow-nonfinite takes it)". `what` names the file.
void refuse_nonfinite(const io::TensorMap& tensors, const std::string& what);

/// "output 'output' holds 12 non-finite values of 4096, the first nan at [0, 1, 3]" for a tensor
/// with NaN or infinity, nullopt for one without.
std::optional<std::string> nonfinite_warning(const torch::Tensor& tensor, const std::string& what);

/// Refuses an input `model` cannot take, naming it (`what`, e.g. "input 'input' of
/// in.safetensors"): a sequence of length 0; for a model of tokens, ids that are not integers or
/// lie outside 0 .. vocab_size - 1 (the first such id, its position and the vocabulary size are
/// named); for a model of features, a last size other than embedding_dim.
void check_model_input(const AppModel& model, const torch::Tensor& input, const std::string& what);

}  // namespace xlstm::apps
