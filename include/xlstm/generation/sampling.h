// Choosing the next token from the logits: greedy, or sampling with temperature, top-k, top-p
// (nucleus) and min-p filtering, and a repetition penalty. Random draws come from a seeded
// torch::Generator on the logits' device, so one seed gives the same tokens on that device. No
// step synchronises with the host.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace xlstm {
namespace generation {

struct SamplingOptions {
  /// Divides the logits; 0 is greedy (argmax of the penalised logits, the filters do not apply).
  double temperature = 1.0;
  /// Keeps the k most likely tokens; 0 keeps all.
  int64_t top_k = 0;
  /// Keeps the most likely tokens until their probability reaches top_p; 1 keeps all.
  double top_p = 1.0;
  /// Drops tokens less likely than min_p times the most likely one; 0 keeps all.
  double min_p = 0.0;
  /// > 1 discourages tokens seen in the prompt or the output: a positive logit is divided by it, a
  /// negative one multiplied (the CTRL paper's penalty); 1 is off.
  double repetition_penalty = 1.0;

  bool greedy() const { return temperature == 0.0; }
  /// Throws std::invalid_argument naming the bad option.
  void validate() const;
};

/// A new generator for `device` (cpu or cuda) seeded with `seed`.
torch::Generator make_generator(const torch::Device& device, uint64_t seed);

/// The repetition penalty applied where `seen` [B, V] (bool) is set.
torch::Tensor penalize_repetitions(const torch::Tensor& logits, const torch::Tensor& seen,
                                   double penalty);

/// float32 logits [B, V] after temperature, top-k, top-p and min-p (in that order; each filter sees
/// the distribution the previous ones left): excluded tokens are -inf, the most likely is kept.
torch::Tensor filter_logits(const torch::Tensor& logits, const SamplingOptions& options);

/// Draws the next tokens of a batch: logits [B, V] -> int64 [B], on the logits' device. Keeps the
/// seen-token mask of the repetition penalty (the prompts, then every chosen token).
class TokenSampler {
 public:
  /// `prompts`: the token ids each row has seen (only read for the repetition penalty).
  TokenSampler(SamplingOptions options, const torch::Device& device, uint64_t seed,
               int64_t vocab_size, const std::vector<std::vector<int64_t>>& prompts);

  torch::Tensor next(const torch::Tensor& logits);

 private:
  SamplingOptions options_;
  torch::Generator generator_;
  torch::Tensor seen_;  // bool [B, V]; undefined without a repetition penalty
};

}  // namespace generation
}  // namespace xlstm
