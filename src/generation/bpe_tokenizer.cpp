#include "xlstm/generation/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "../io/json.h"
#include "byte_level.h"
#include "tokenizer_json.h"
#include "unicode.h"
#include "xlstm/io/read_file.h"

namespace xlstm::generation {
// Named, not anonymous: BpeTokenizer::State holds two (an anonymous type there would give the
// class internal linkage in a unity build).
namespace bpe_detail {

/// Finds added tokens in text as tokenizers does (aho-corasick, LeftmostLongest): the leftmost
/// match, the longest one there, then on after it.
class AddedTokenMatcher {
 public:
  void add(std::string pattern, int64_t id) {
    auto& bucket = by_first_byte_[static_cast<unsigned char>(pattern[0])];
    bucket.push_back({std::move(pattern), id});
    std::stable_sort(bucket.begin(), bucket.end(), [](const Entry& a, const Entry& b) {
      return a.pattern.size() > b.pattern.size();
    });
  }

  /// Calls on_text(piece) for each non-empty piece between matches and on_token(id) for each
  /// match, in text order.
  template <class OnText, class OnToken>
  void split(std::string_view text, OnText on_text, OnToken on_token) const {
    size_t start = 0;
    for (size_t i = 0; i < text.size();) {
      const Entry* match = nullptr;
      for (const Entry& entry : by_first_byte_[static_cast<unsigned char>(text[i])])
        if (text.compare(i, entry.pattern.size(), entry.pattern) == 0) {
          match = &entry;
          break;
        }
      if (match == nullptr) {
        ++i;
        continue;
      }
      if (i > start) on_text(text.substr(start, i - start));
      on_token(match->id);
      i += match->pattern.size();
      start = i;
    }
    if (start < text.size()) on_text(text.substr(start));
  }

 private:
  struct Entry {
    std::string pattern;
    int64_t id;
  };
  std::array<std::vector<Entry>, 256> by_first_byte_;
};

}  // namespace bpe_detail

namespace {
using bpe_detail::AddedTokenMatcher;

/// A model token's bytes: each character of the byte-level alphabet mapped back; a token with a
/// character outside it stands for its own UTF-8 (as tokenizers' ByteLevel decoder has it).
std::string model_token_bytes(const std::string& token) {
  std::string bytes;
  for (const char32_t c : unicode::decode_utf8(token)) {
    const int byte = byte_level::char_byte(c);
    if (byte < 0) return token;
    bytes += static_cast<char>(byte);
  }
  return bytes;
}

}  // namespace

struct BpeTokenizer::State {
  TokenizerSpec spec;
  std::vector<std::string> bytes;  // token_bytes of each id, special tokens aside
  std::vector<bool> special;
  std::unordered_map<std::string, int64_t> ids;
  std::unordered_map<std::string, int64_t> special_ids;  // a special token's content -> id
  AddedTokenMatcher raw_tokens, normalized_tokens;
  std::optional<int64_t> bos, eos, pad;

  std::string normalize(std::string_view text) const {
    if (!spec.nfc) return std::string(text);
    return unicode::encode_utf8(unicode::nfc(unicode::decode_utf8(text)));
  }

  /// A piece of text between added tokens, normalised: pre-tokenised, then each word merged.
  void encode_piece(std::string_view piece, std::vector<int64_t>& out) const {
    std::u32string chars = unicode::decode_utf8(piece);
    if (spec.add_prefix_space && chars[0] != U' ') chars.insert(chars.begin(), U' ');
    if (!spec.use_regex) return spec.model->tokenize(unicode::encode_utf8(chars), out);
    const std::u32string_view view(chars);
    for (const auto& [begin, end] : byte_level::split_gpt2(view))
      spec.model->tokenize(unicode::encode_utf8(view.substr(begin, end - begin)), out);
  }

  /// The special token `option` names, else the first of `spellings` that is one, else `fallback`.
  std::optional<int64_t> pick(const std::string& option, const char* option_name,
                              std::initializer_list<const char*> spellings,
                              std::optional<int64_t> fallback, const std::string& origin) const {
    if (!option.empty()) {
      const auto it = ids.find(option);
      if (it == ids.end())
        throw std::runtime_error(std::string("BpeTokenizerOptions.") + option_name + ": " +
                                 io::json::quote(option) + " is not a token of " + origin);
      return it->second;
    }
    for (const char* spelling : spellings)
      if (const auto it = special_ids.find(spelling); it != special_ids.end()) return it->second;
    return fallback;
  }
};

BpeTokenizer BpeTokenizer::from_file(const std::string& path, const BpeTokenizerOptions& options) {
  return from_json(io::read_regular_file(path, kMaxFileBytes), path, options);
}

BpeTokenizer BpeTokenizer::from_json(const std::string& json, const std::string& origin,
                                     const BpeTokenizerOptions& options) {
  auto state = std::make_shared<State>();
  state->spec = read_tokenizer_json(json, origin);
  const TokenizerSpec& spec = state->spec;
  const size_t n = spec.tokens.size();
  state->bytes.resize(n);
  state->special.assign(n, false);
  state->ids.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    state->bytes[id] = model_token_bytes(spec.tokens[id]);
    state->ids.emplace(spec.tokens[id], static_cast<int64_t>(id));
  }
  for (const AddedTokenSpec& added : spec.added) {
    state->bytes[added.id] = added.content;
    state->special[added.id] = added.special;
    if (added.special) state->special_ids.emplace(added.content, added.id);
    if (added.normalized)
      state->normalized_tokens.add(state->normalize(added.content), added.id);
    else
      state->raw_tokens.add(added.content, added.id);
  }
  state->bos = state->pick(options.bos, "bos", {"<bos>", "<s>"}, spec.template_first, origin);
  state->eos = state->pick(options.eos, "eos", {"<eos>", "</s>", "<|endoftext|>"}, {}, origin);
  state->pad = state->pick(options.pad, "pad", {"<pad>", "<|padding|>"}, {}, origin);
  return BpeTokenizer(std::move(state));
}

int64_t BpeTokenizer::vocab_size() const {
  return static_cast<int64_t>(state_->spec.tokens.size());
}

std::vector<int64_t> BpeTokenizer::encode(const std::string& text) const {
  try {
    unicode::decode_utf8(text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("BpeTokenizer: ") + e.what());
  }
  const State& s = *state_;
  std::vector<int64_t> ids = s.spec.prefix_ids;
  const auto push = [&](int64_t id) { ids.push_back(id); };
  // Tokens matched in the raw text first; the rest normalised piece by piece, then the tokens
  // matched in normalised text, then the model (tokenizers' AddedVocabulary order).
  s.raw_tokens.split(
      text,
      [&](std::string_view raw) {
        const std::string normalized = s.normalize(raw);
        s.normalized_tokens.split(
            normalized, [&](std::string_view piece) { s.encode_piece(piece, ids); }, push);
      },
      push);
  ids.insert(ids.end(), s.spec.suffix_ids.begin(), s.spec.suffix_ids.end());
  return ids;
}

void BpeTokenizer::check_id(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("BpeTokenizer: token id " + std::to_string(id) +
                            " is outside the vocabulary (0.." + std::to_string(vocab_size() - 1) +
                            ")");
}

std::string BpeTokenizer::token_bytes(int64_t id) const {
  check_id(id);
  return state_->special[id] ? "" : state_->bytes[id];
}

std::optional<int64_t> BpeTokenizer::special_token(const std::string& name) const {
  if (name == "<bos>") return state_->bos;
  if (name == "<eos>") return state_->eos;
  if (name == "<pad>") return state_->pad;
  const auto it = state_->special_ids.find(name);
  return it == state_->special_ids.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

bool BpeTokenizer::is_special(int64_t id) const {
  return id >= 0 && id < vocab_size() && state_->special[id];
}

std::string BpeTokenizer::decode_with_special_tokens(const std::vector<int64_t>& ids) const {
  std::string text;
  for (const int64_t id : ids) {
    check_id(id);
    text += state_->bytes[id];
  }
  return text;
}

const std::string& BpeTokenizer::token(int64_t id) const {
  check_id(id);
  return state_->spec.tokens[id];
}

std::optional<int64_t> BpeTokenizer::token_to_id(const std::string& token) const {
  const auto it = state_->ids.find(token);
  return it == state_->ids.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

}  // namespace xlstm::generation
