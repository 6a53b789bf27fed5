#include "byte_level.h"

#include <array>

#include "unicode.h"

namespace xlstm::generation::byte_level {
namespace {

bool printable(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

std::array<char32_t, 256> make_alphabet() {
  std::array<char32_t, 256> chars{};
  char32_t next = 0x100;
  for (unsigned b = 0; b < 256; ++b) chars[b] = printable(b) ? b : next++;
  return chars;
}

const std::array<char32_t, 256>& alphabet() {
  static const std::array<char32_t, 256> chars = make_alphabet();
  return chars;
}

bool is_other(char32_t c) {
  return !unicode::is_white_space(c) && !unicode::is_letter(c) && !unicode::is_number(c);
}

/// Length of the run of characters from `i` on that satisfy `inside`.
template <class Predicate>
size_t run(std::u32string_view text, size_t i, Predicate inside) {
  size_t j = i;
  while (j < text.size() && inside(text[j])) ++j;
  return j - i;
}

/// Length of the regex's match at `i` (at least 1).
size_t match_at(std::u32string_view text, size_t i) {
  const char32_t c = text[i];
  const size_t left = text.size() - i;
  if (c == '\'' && left >= 2) {  // 's 't 'm 'd, then 're 've 'll
    const char32_t d = text[i + 1];
    if (d == 's' || d == 't' || d == 'm' || d == 'd') return 2;
    if (left >= 3) {
      const char32_t e = text[i + 2];
      if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return 3;
    }
  }
  const size_t space = c == ' ' && left >= 2 ? 1 : 0;  // the optional leading space
  for (bool (*inside)(char32_t) : {unicode::is_letter, unicode::is_number, is_other})
    if (const size_t n = run(text, i + space, inside); n > 0) return space + n;
  // c is white space: \s+(?!\S) stops one short of a following non-space, else \s+.
  const size_t n = run(text, i, unicode::is_white_space);
  return i + n == text.size() || n == 1 ? n : n - 1;
}

}  // namespace

char32_t byte_char(uint8_t b) {
  return alphabet()[b];
}

int char_byte(char32_t c) {
  if (c < 0x100) return printable(c) ? static_cast<int>(c) : -1;
  for (unsigned b = 0; b < 256; ++b)
    if (alphabet()[b] == c) return static_cast<int>(b);
  return -1;
}

std::vector<std::pair<size_t, size_t>> split_gpt2(std::u32string_view text) {
  std::vector<std::pair<size_t, size_t>> pieces;
  for (size_t i = 0; i < text.size();) {
    const size_t n = match_at(text, i);
    pieces.emplace_back(i, i + n);
    i += n;
  }
  return pieces;
}

}  // namespace xlstm::generation::byte_level
