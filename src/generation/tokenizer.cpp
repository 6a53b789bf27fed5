#include "xlstm/generation/tokenizer.h"

namespace xlstm {
namespace generation {
namespace {

const char* const kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Bytes of the UTF-8 sequence that `lead` starts; 0 when `lead` cannot start one.
size_t sequence_length(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

/// Whether `byte` may follow as byte `index` (1, 2, 3) of a sequence led by `lead`. The second
/// byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
bool continues(unsigned char lead, size_t index, unsigned char byte) {
  unsigned char low = 0x80, high = 0xBF;
  if (index == 1) {
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  }
  return byte >= low && byte <= high;
}

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
    const size_t length = sequence_length(lead);
    if (length == 0) {
      text += kReplacement;
      ++i;
      continue;
    }
    size_t valid = 1;  // bytes of the sequence seen so far that fit
    while (valid < length && i + valid < buffer.size() &&
           continues(lead, valid, static_cast<unsigned char>(buffer[i + valid])))
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
