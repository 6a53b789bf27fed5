// The tokenizer interface of text generation: text <-> token ids, the bytes each token stands for,
// special tokens, and a streaming decoder that turns tokens into UTF-8 text without ever splitting
// a character. The byte-level tokenizer implements it (byte_tokenizer.h), and so does the BPE
// tokenizer of a Hugging Face tokenizer.json (bpe_tokenizer.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xlstm {
namespace generation {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Number of token ids (0 .. vocab_size() - 1), special tokens included.
  virtual int64_t vocab_size() const = 0;
  /// Text -> token ids. Per implementation: the byte tokenizer takes any bytes and keeps text that
  /// spells a special token ("<eos>") as plain text; the BPE tokenizer takes valid UTF-8 and, like
  /// Hugging Face tokenizers, turns text spelling a special token ("<|endoftext|>") into it.
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;
  /// The bytes token `id` stands for ("" for a special token); throws for an id outside the vocab.
  virtual std::string token_bytes(int64_t id) const = 0;
  /// The id of the special token `name` ("<bos>", "<eos>", "<pad>"), or nullopt when there is none.
  virtual std::optional<int64_t> special_token(const std::string& name) const = 0;
  virtual bool is_special(int64_t id) const = 0;

  /// The bytes of `ids` concatenated (special tokens contribute nothing).
  virtual std::string decode(const std::vector<int64_t>& ids) const;
};

/// Decodes a token stream piece by piece into valid UTF-8: each push returns the characters that
/// are complete so far and keeps an unfinished multi-byte character until its last byte arrives.
/// Valid UTF-8 comes out byte for byte; each maximal invalid subsequence becomes one U+FFFD.
class Utf8StreamDecoder {
 public:
  explicit Utf8StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  /// The text that token `id` completes.
  std::string push(int64_t id) { return push_bytes(tokenizer_->token_bytes(id)); }
  /// The text that `bytes` complete.
  std::string push_bytes(const std::string& bytes);
  /// Ends the stream: an unfinished character becomes U+FFFD.
  std::string flush();
  /// Bytes held back (the start of a character not yet complete).
  const std::string& pending() const { return pending_; }

 private:
  const Tokenizer* tokenizer_;
  std::string pending_;
};

}  // namespace generation
}  // namespace xlstm
