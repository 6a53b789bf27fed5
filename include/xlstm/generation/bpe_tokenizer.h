// The byte-level BPE tokenizer of a Hugging Face `tokenizer.json` (the GPT-2 / GPT-NeoX family, as
// xLSTM-7B ships it), encoding like the `tokenizers` library: the text is split on the added tokens
// (longest first; those with "normalized": false on the raw text), the rest NFC-normalised (when
// the file says so), split by GPT-2's regex, each piece's bytes merged by rank; a
// TemplateProcessing post-processor adds its special tokens (a BOS). What the file may hold and
// what is refused: docs/generation.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xlstm/generation/tokenizer.h"

namespace xlstm {
namespace generation {

/// Which of the file's tokens special_token("<bos>" / "<eos>" / "<pad>") names; empty: found as
/// follows. <bos>: a special token spelled "<bos>", "<s>", else the one TemplateProcessing puts
/// first; <eos>: "<eos>", "</s>", else "<|endoftext|>"; <pad>: "<pad>", else "<|padding|>".
struct BpeTokenizerOptions {
  std::string bos;
  std::string eos;
  std::string pad;
};

class BpeTokenizer : public Tokenizer {
 public:
  /// The largest tokenizer.json read (the 7B's is 2 MB).
  static constexpr uint64_t kMaxFileBytes = uint64_t{256} << 20;

  /// Reads `path` (a regular file of at most kMaxFileBytes). Errors are std::runtime_error
  /// "PATH: key.path: problem" (e.g. "tokenizer.json: model.merges[17]: ...").
  static BpeTokenizer from_file(const std::string& path, const BpeTokenizerOptions& options = {});
  /// The same from the file's text; `origin` starts the error messages.
  static BpeTokenizer from_json(const std::string& json,
                                const std::string& origin = "tokenizer.json",
                                const BpeTokenizerOptions& options = {});

  int64_t vocab_size() const override;
  /// Valid UTF-8 -> token ids, as tokenizers' encode(text).ids (post-processor included). Text
  /// that spells an added token, special ones included ("<|endoftext|>"), becomes that token.
  /// std::invalid_argument naming the byte offset for text that is not valid UTF-8.
  std::vector<int64_t> encode(const std::string& text) const override;
  /// A model token's bytes (the byte-level alphabet mapped back), an added token's content, ""
  /// for a special token.
  std::string token_bytes(int64_t id) const override;
  /// "<bos>", "<eos>", "<pad>" (see BpeTokenizerOptions) or any special token's own content.
  std::optional<int64_t> special_token(const std::string& name) const override;
  bool is_special(int64_t id) const override;

  /// Like decode(), with the special tokens' content kept: tokenizers' decode(ids,
  /// skip_special_tokens=False) for a sequence that is valid UTF-8.
  std::string decode_with_special_tokens(const std::vector<int64_t>& ids) const;
  /// The token as the file spells it (model tokens in the byte-level alphabet: " a" is "Ġa").
  const std::string& token(int64_t id) const;
  /// The id of the token the file spells `token`, or nullopt.
  std::optional<int64_t> token_to_id(const std::string& token) const;

 private:
  struct State;
  explicit BpeTokenizer(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  void check_id(int64_t id) const;

  std::shared_ptr<const State> state_;
};

}  // namespace generation
}  // namespace xlstm
