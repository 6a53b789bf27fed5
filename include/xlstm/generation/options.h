// What generate() takes and gives per sequence: the options (length, sampling, seed, stop tokens
// and strings, the streaming callback) and the generated tokens with the reason they ended.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xlstm/generation/sampling.h"
#include "xlstm/generation/tokenizer.h"

namespace xlstm {
namespace generation {

enum class FinishReason {
  kLength,      ///< max_new_tokens reached
  kStopToken,   ///< a stop token id came (it is the last token)
  kStopString,  ///< the generated text came to contain a stop string (its last token is the last)
  kCallback,    ///< the callback ended it
};
const char* to_string(FinishReason reason);

/// What the callback wants after a token.
enum class GenerationControl {
  kContinue,
  kStopSequence,  ///< end this sequence (the token stays)
  kStopAll,       ///< end every sequence after this step's tokens
};

/// One new token of one sequence, as the callback sees it.
struct TokenEvent {
  int64_t sequence;  ///< index of the prompt
  int64_t token;
  int64_t index;  ///< 0 for the first new token of the sequence
  /// Set when this token ends the sequence (before the callback's say).
  std::optional<FinishReason> finished;
};
using TokenCallback = std::function<GenerationControl(const TokenEvent&)>;

struct GenerationOptions {
  int64_t max_new_tokens = 64;
  SamplingOptions sampling;
  uint64_t seed = 0;
  /// A sequence ends with (and keeps) the first of these it produces.
  std::vector<int64_t> stop_token_ids;
  /// A sequence ends once its generated text contains one of these (matched on the tokens' bytes,
  /// so through `tokenizer`, which must then be set).
  std::vector<std::string> stop_strings;
  const Tokenizer* tokenizer = nullptr;
  /// Called for every new token, sequences in order within a step; may end generation early.
  TokenCallback on_token;
  /// On a CUDA device, capture the per-token step (of a model with step_in_place) as a CUDA graph
  /// once and replay it (stepper.h); where capture is impossible the plain step runs, said once on
  /// stderr. No effect on the CPU.
  bool cuda_graph = true;
};

struct GeneratedSequence {
  std::vector<int64_t> tokens;  ///< the new tokens (the prompt not included)
  FinishReason finish_reason = FinishReason::kLength;
};

}  // namespace generation
}  // namespace xlstm
