// The byte-level tokenizer: ids 0..255 are the bytes themselves, then the special tokens <bos>,
// <eos> and <pad>. Lossless on any bytes (UTF-8 or not).
#pragma once

#include "xlstm/generation/tokenizer.h"

namespace xlstm {
namespace generation {

class ByteTokenizer : public Tokenizer {
 public:
  static constexpr int64_t kBos = 256;
  static constexpr int64_t kEos = 257;
  static constexpr int64_t kPad = 258;
  static constexpr int64_t kVocabSize = 259;

  int64_t vocab_size() const override { return kVocabSize; }
  std::vector<int64_t> encode(const std::string& text) const override;
  std::string token_bytes(int64_t id) const override;
  std::optional<int64_t> special_token(const std::string& name) const override;
  bool is_special(int64_t id) const override { return id >= 256 && id < kVocabSize; }
};

}  // namespace generation
}  // namespace xlstm
