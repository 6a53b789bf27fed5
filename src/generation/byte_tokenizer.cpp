#include "xlstm/generation/byte_tokenizer.h"

#include <stdexcept>

namespace xlstm {
namespace generation {

std::vector<int64_t> ByteTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (const char byte : text) ids.push_back(static_cast<unsigned char>(byte));
  return ids;
}

std::string ByteTokenizer::token_bytes(int64_t id) const {
  if (id >= 0 && id < 256) return std::string(1, static_cast<char>(id));
  if (is_special(id)) return "";
  throw std::out_of_range("ByteTokenizer: token id " + std::to_string(id) +
                          " is outside the vocabulary (0.." + std::to_string(kVocabSize - 1) + ")");
}

std::optional<int64_t> ByteTokenizer::special_token(const std::string& name) const {
  if (name == "<bos>") return kBos;
  if (name == "<eos>") return kEos;
  if (name == "<pad>") return kPad;
  return std::nullopt;
}

}  // namespace generation
}  // namespace xlstm
