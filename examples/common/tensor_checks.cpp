#include "tensor_checks.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace xlstm::apps {
namespace {

/// The index of element `flat` of a tensor of `sizes`, "[1, 17]".
std::string index_text(int64_t flat, torch::IntArrayRef sizes) {
  std::vector<int64_t> index(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    index[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  std::ostringstream text;
  text << "[";
  for (size_t d = 0; d < index.size(); ++d) text << (d ? ", " : "") << index[d];
  text << "]";
  return text.str();
}

/// "nan" (whatever its sign bit), "inf", "-inf".
std::string value_text(double value) {
  if (std::isnan(value)) return "nan";
  std::ostringstream text;
  text << value;
  return text.str();
}

std::string shape_text(torch::IntArrayRef sizes) {
  std::ostringstream text;
  text << sizes;
  return text.str();
}

}  // namespace

std::optional<NonFinite> find_nonfinite(const torch::Tensor& tensor) {
  if (!tensor.defined() || !tensor.is_floating_point() || tensor.numel() == 0) return std::nullopt;
  const auto bad = torch::isfinite(tensor).logical_not().reshape({-1});
  const int64_t count = bad.sum().item<int64_t>();
  if (count == 0) return std::nullopt;
  const int64_t first = bad.nonzero()[0][0].item<int64_t>();
  return NonFinite{count, index_text(first, tensor.sizes()),
                   tensor.reshape({-1})[first].item<double>()};
}

void refuse_nonfinite(const io::TensorMap& tensors, const std::string& what) {
  for (const auto& [name, tensor] : tensors) {
    const auto bad = find_nonfinite(tensor);
    if (!bad) continue;
    std::ostringstream text;
    text << what << ": tensor '" << name << "' holds " << bad->count << " non-finite value"
         << (bad->count > 1 ? "s" : "") << ", the first " << value_text(bad->first_value) << " at "
         << bad->first_index << " (refused; --allow-nonfinite takes it)";
    throw std::runtime_error(text.str());
  }
}

std::optional<std::string> nonfinite_warning(const torch::Tensor& tensor, const std::string& what) {
  const auto bad = find_nonfinite(tensor);
  if (!bad) return std::nullopt;
  std::ostringstream text;
  text << what << " holds " << bad->count << " non-finite value" << (bad->count > 1 ? "s" : "")
       << " of " << tensor.numel() << ", the first " << value_text(bad->first_value) << " at "
       << bad->first_index;
  return text.str();
}

void check_model_input(const AppModel& model, const torch::Tensor& input, const std::string& what) {
  const std::string shape = shape_text(input.sizes());
  const auto refuse = [&](const std::string& why) {
    throw std::invalid_argument(what + " (shape " + shape + "): " + why);
  };
  const int64_t expected_dims = model.takes_tokens() ? 2 : 3;
  if (input.dim() != expected_dims)
    refuse(model.takes_tokens() ? "expected token ids [batch, sequence]"
                                : "expected features [batch, sequence, embedding_dim]");
  if (input.size(0) == 0) refuse("the batch is empty");
  if (input.size(1) == 0) refuse("the sequence is empty (length 0)");
  const int64_t size = model.input_size();
  if (!model.takes_tokens()) {
    if (input.size(2) != size)
      refuse("its last size is not the model's embedding_dim " + std::to_string(size));
    return;
  }
  if (input.is_floating_point() || input.is_complex() || input.scalar_type() == torch::kBool)
    refuse("token ids must be integers, got " + std::string(c10::toString(input.scalar_type())));
  const auto ids = input.to(torch::kLong).reshape({-1});
  const auto outside = ids.lt(0).logical_or(ids.ge(size));
  if (!outside.any().item<bool>()) return;
  const int64_t first = outside.nonzero()[0][0].item<int64_t>();
  refuse("token id " + std::to_string(ids[first].item<int64_t>()) + " at " +
         index_text(first, input.sizes()) + " is outside the vocabulary (vocab_size " +
         std::to_string(size) + ": ids 0 .. " + std::to_string(size - 1) + ")");
}

}  // namespace xlstm::apps
