#include "xlstm/generation/sequence_tracker.h"

#include <algorithm>
#include <stdexcept>

namespace xlstm {
namespace generation {

const char* to_string(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStopToken:
      return "stop_token";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kCallback:
      return "callback";
  }
  return "unknown";
}

SequenceTracker::SequenceTracker(const GenerationOptions& options, size_t num_sequences)
    : options_(options),
      sequences_(num_sequences),
      texts_(num_sequences),
      running_(num_sequences, options.max_new_tokens > 0),
      num_running_(options.max_new_tokens > 0 ? num_sequences : 0) {
  if (options.max_new_tokens < 0)
    throw std::invalid_argument("generate: max_new_tokens must be >= 0, got " +
                                std::to_string(options.max_new_tokens));
  if (!options.stop_strings.empty() && options.tokenizer == nullptr)
    throw std::invalid_argument("generate: stop strings need GenerationOptions::tokenizer");
  for (const auto& stop : options.stop_strings)
    if (stop.empty()) throw std::invalid_argument("generate: a stop string is empty");
}

std::optional<FinishReason> SequenceTracker::stop_reason(size_t sequence,
                                                         const std::string& new_bytes) const {
  const auto& tokens = sequences_[sequence].tokens;
  const auto& stops = options_.stop_token_ids;
  if (std::find(stops.begin(), stops.end(), tokens.back()) != stops.end())
    return FinishReason::kStopToken;
  const std::string& text = texts_[sequence];
  for (const auto& stop : options_.stop_strings) {
    // Only a match that ends inside the new bytes is new.
    const size_t reach = new_bytes.size() + stop.size() - 1;
    const size_t from = text.size() > reach ? text.size() - reach : 0;
    if (!new_bytes.empty() && text.find(stop, from) != std::string::npos)
      return FinishReason::kStopString;
  }
  if (static_cast<int64_t>(tokens.size()) == options_.max_new_tokens) return FinishReason::kLength;
  return std::nullopt;
}

std::vector<size_t> SequenceTracker::record(const std::vector<int64_t>& tokens) {
  TORCH_CHECK(tokens.size() == sequences_.size(), "SequenceTracker: expected ", sequences_.size(),
              " tokens, got ", tokens.size());
  std::vector<size_t> ended;
  bool stop_all = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!running_[i]) continue;
    auto& sequence = sequences_[i];
    sequence.tokens.push_back(tokens[i]);
    std::string new_bytes;
    if (!options_.stop_strings.empty()) {
      new_bytes = options_.tokenizer->token_bytes(tokens[i]);
      texts_[i] += new_bytes;
    }
    std::optional<FinishReason> finished = stop_reason(i, new_bytes);
    if (options_.on_token) {
      const auto control =
          options_.on_token({static_cast<int64_t>(i), tokens[i],
                             static_cast<int64_t>(sequence.tokens.size()) - 1, finished});
      if (control != GenerationControl::kContinue && !finished) finished = FinishReason::kCallback;
      stop_all = stop_all || control == GenerationControl::kStopAll;
    }
    if (finished) {
      sequence.finish_reason = *finished;
      running_[i] = false;
      ended.push_back(i);
    }
  }
  for (size_t i = 0; stop_all && i < tokens.size(); ++i) {
    if (!running_[i]) continue;
    sequences_[i].finish_reason = FinishReason::kCallback;
    running_[i] = false;
    ended.push_back(i);
  }
  num_running_ -= ended.size();
  return ended;
}

}  // namespace generation
}  // namespace xlstm
