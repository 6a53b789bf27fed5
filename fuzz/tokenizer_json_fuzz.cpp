// Fuzz target: the BPE tokenizer's reader of tokenizer.json. The one error a file may give is a
// std::runtime_error; a tokenizer it loads encodes a fixed text into ids inside its vocabulary
// that decode back without error, and refuses text that is not UTF-8 with std::invalid_argument.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "xlstm/generation/bpe_tokenizer.h"

namespace {

using xlstm::generation::BpeTokenizer;

void check(const BpeTokenizer& tokenizer) {
  const std::string text = "Hello <|endoftext|>  the thing\n\te\xCC\x81 \xE4\xB8\xAD 12'll";
  for (const int64_t id : tokenizer.encode(text)) {
    if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
    tokenizer.token_bytes(id);
  }
  tokenizer.decode_with_special_tokens(tokenizer.encode(text));
  try {
    tokenizer.encode("bad \xFF");
    std::abort();
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    check(BpeTokenizer::from_json(json));
  } catch (const std::runtime_error&) {
  }
  return 0;
}
