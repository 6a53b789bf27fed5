#include "xlstm/generation/tokenizer.h"

#include "unicode.h"

namespace xlstm {
namespace generation {
namespace {

const char* const kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string bytes;
  for (const int64_t id : ids) bytes += token_bytes(id);
  return bytes;
}

std::string Utf8StreamDecoder::push_bytes(const std::string& bytes) {
  const std::string buffer = pending_ + bytes;
  pending_.clear();
  std::string text;
  size_t i = 0;
  while (i < buffer.size()) {
    const auto lead = static_cast<unsigned char>(buffer[i]);
    if (lead < 0x80) {
      text += buffer[i++];
      continue;
    }
    const size_t length = unicode::utf8_sequence_length(lead);
    if (length == 0) {
      text += kReplacement;
      ++i;
      continue;
    }
    size_t valid = 1;  // bytes of the sequence seen so far that fit
    while (valid < length && i + valid < buffer.size() &&
           unicode::utf8_continues(lead, valid, static_cast<unsigned char>(buffer[i + valid])))
      ++valid;
    if (valid == length) {
      text.append(buffer, i, length);
    } else if (i + valid == buffer.size()) {
      pending_ = buffer.substr(i);  // a character still arriving
    } else {
      text += kReplacement;  // one U+FFFD for the maximal invalid subsequence
    }
    i += valid;
  }
  return text;
}

std::string Utf8StreamDecoder::flush() {
  const bool unfinished = !pending_.empty();
  pending_.clear();
  return unfinished ? kReplacement : "";
}

}  // namespace generation
}  // namespace xlstm
