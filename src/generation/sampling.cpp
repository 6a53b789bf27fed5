#include "xlstm/generation/sampling.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace xlstm {
namespace generation {
namespace {

constexpr float kExcluded = -std::numeric_limits<float>::infinity();

void require(bool ok, const std::string& option, const std::string& rule, double value) {
  if (!ok)
    throw std::invalid_argument("sampling: " + option + " must be " + rule + ", got " +
                                std::to_string(value));
}

}  // namespace

void SamplingOptions::validate() const {
  require(temperature >= 0.0, "temperature", ">= 0 (0: greedy)", temperature);
  require(top_k >= 0, "top_k", ">= 0 (0: off)", static_cast<double>(top_k));
  require(top_p > 0.0 && top_p <= 1.0, "top_p", "in (0, 1] (1: off)", top_p);
  require(min_p >= 0.0 && min_p <= 1.0, "min_p", "in [0, 1] (0: off)", min_p);
  require(repetition_penalty > 0.0, "repetition_penalty", "> 0 (1: off)", repetition_penalty);
}

torch::Generator make_generator(const torch::Device& device, uint64_t seed) {
  auto generator = at::globalContext().defaultGenerator(device).clone();
  generator.set_current_seed(seed);
  return generator;
}

torch::Tensor penalize_repetitions(const torch::Tensor& logits, const torch::Tensor& seen,
                                   double penalty) {
  const auto penalized = torch::where(logits > 0, logits / penalty, logits * penalty);
  return torch::where(seen, penalized, logits);
}

torch::Tensor filter_logits(const torch::Tensor& logits, const SamplingOptions& options) {
  TORCH_CHECK(logits.dim() == 2, "filter_logits: expected logits [B, V], got ", logits.sizes());
  torch::Tensor scores = logits.to(torch::kFloat32) / options.temperature;
  const int64_t vocab = scores.size(1);
  if (options.top_k > 0 && options.top_k < vocab) {
    const auto top = std::get<1>(scores.topk(options.top_k, -1));
    const auto keep = torch::zeros_like(scores, torch::kBool).scatter_(-1, top, true);
    scores = scores.masked_fill(keep.logical_not(), kExcluded);
  }
  if (options.top_p < 1.0) {
    const auto [sorted, order] = scores.sort(-1, /*descending=*/true);
    const auto probs = sorted.softmax(-1);
    // A token goes when the more likely ones already reach top_p (the first never goes).
    const auto drop_sorted = (probs.cumsum(-1) - probs) >= options.top_p;
    const auto drop = torch::zeros_like(drop_sorted).scatter_(-1, order, drop_sorted);
    scores = scores.masked_fill(drop, kExcluded);
  }
  if (options.min_p > 0.0) {
    const auto probs = scores.softmax(-1);
    scores = scores.masked_fill(probs < probs.amax(-1, true) * options.min_p, kExcluded);
  }
  return scores;
}

TokenSampler::TokenSampler(SamplingOptions options, const torch::Device& device, uint64_t seed,
                           int64_t vocab_size, const std::vector<std::vector<int64_t>>& prompts)
    : options_(options), generator_(make_generator(device, seed)) {
  options_.validate();
  if (options_.repetition_penalty == 1.0) return;
  seen_ = torch::zeros({static_cast<int64_t>(prompts.size()), vocab_size}, torch::kBool);
  auto rows = seen_.accessor<bool, 2>();
  for (size_t row = 0; row < prompts.size(); ++row)
    for (const int64_t id : prompts[row]) {
      TORCH_CHECK(id >= 0 && id < vocab_size, "TokenSampler: prompt ", row, " has token id ", id,
                  " outside the vocabulary (0..", vocab_size - 1, ")");
      rows[row][id] = true;
    }
  seen_ = seen_.to(device);
}

torch::Tensor TokenSampler::next(const torch::Tensor& logits) {
  torch::Tensor scores = logits.to(torch::kFloat32);
  if (seen_.defined()) {
    TORCH_CHECK(scores.sizes() == seen_.sizes(), "TokenSampler: expected logits ", seen_.sizes(),
                ", got ", scores.sizes());
    scores = penalize_repetitions(scores, seen_, options_.repetition_penalty);
  }
  torch::Tensor tokens;
  if (options_.greedy()) {
    tokens = scores.argmax(-1);
  } else {
    const auto probs = filter_logits(scores, options_).softmax(-1);
    // Exponential race: argmax_i p_i / E_i with E_i ~ Exp(1) is token i with probability p_i.
    const auto race = torch::empty_like(probs).exponential_(1.0, generator_);
    tokens = (probs / race).masked_fill(probs <= 0, -1.0).argmax(-1);
  }
  if (seen_.defined()) seen_.scatter_(1, tokens.unsqueeze(1), true);
  return tokens;
}

}  // namespace generation
}  // namespace xlstm
