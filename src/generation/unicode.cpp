#include "unicode.h"

#include <algorithm>
#include <stdexcept>

#include "unicode_tables.h"

namespace xlstm::generation::unicode {
namespace {

// Hangul syllables: S = SBase + (L * VCount + V) * TCount + T (The Unicode Standard, 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr char32_t kSCount = kLCount * kNCount;

bool in_ranges(const CodeRange* ranges, size_t size, char32_t c) {
  const CodeRange* end = ranges + size;
  const CodeRange* it =
      std::upper_bound(ranges, end, c, [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

const Decomposition* find_decomposition(char32_t c) {
  const Decomposition* end = kDecompositions + kDecompositionsSize;
  const Decomposition* it = std::lower_bound(
      kDecompositions, end, c, [](const Decomposition& d, char32_t v) { return d.code < v; });
  return it != end && it->code == c ? it : nullptr;
}

void decompose(char32_t c, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t index = c - kSBase;
    out += kLBase + index / kNCount;
    out += kVBase + index % kNCount / kTCount;
    if (index % kTCount != 0) out += kTBase + index % kTCount;
    return;
  }
  if (const Decomposition* d = find_decomposition(c)) {
    decompose(d->first, out);  // mappings nest a few levels at most
    if (d->second != 0) decompose(d->second, out);
    return;
  }
  out += c;
}

/// The primary composite of `first` + `second`, or 0.
char32_t compose(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase && second < kVBase + kVCount)
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
      second > kTBase && second < kTBase + kTCount)
    return first + (second - kTBase);
  const Composition* end = kCompositions + kCompositionsSize;
  const Composition* it = std::lower_bound(
      kCompositions, end, std::make_pair(first, second), [](const Composition& c, const auto& v) {
        return c.first < v.first || (c.first == v.first && c.second < v.second);
      });
  return it != end && it->first == first && it->second == second ? it->composite : 0;
}

}  // namespace

size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool utf8_continues(unsigned char lead, size_t index, unsigned char byte) {
  unsigned char low = 0x80, high = 0xBF;
  if (index == 1) {
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  }
  return byte >= low && byte <= high;
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = utf8_sequence_length(lead);
    char32_t code = length == 1 ? lead : lead & (0x7F >> length);
    size_t k = 1;
    for (; length > 1 && k < length && i + k < text.size(); ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (!utf8_continues(lead, k, byte)) break;
      code = (code << 6) | (byte & 0x3F);
    }
    if (length == 0 || k < length)
      throw std::invalid_argument("the text is not valid UTF-8 at byte " + std::to_string(i));
    out += code;
    i += length;
  }
  return out;
}

void append_utf8(std::string& out, char32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) append_utf8(out, c);
  return out;
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return in_ranges(kLetters, kLettersSize, c);
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_ranges(kNumbers, kNumbersSize, c);
}

bool is_white_space(char32_t c) {
  return in_ranges(kWhiteSpace, kWhiteSpaceSize, c);
}

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const ClassRange* end = kCombiningClasses + kCombiningClassesSize;
  const ClassRange* it = std::upper_bound(
      kCombiningClasses, end, c, [](char32_t v, const ClassRange& r) { return v < r.first; });
  return it != kCombiningClasses && c <= (it - 1)->last ? (it - 1)->combining_class : 0;
}

std::u32string nfc(std::u32string_view text) {
  // Below U+00C0 nothing decomposes, combines or composes.
  if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0xC0; }))
    return std::u32string(text);
  std::u32string decomposed;
  decomposed.reserve(text.size());
  for (const char32_t c : text) decompose(c, decomposed);
  // Canonical ordering: each run of non-starters sorted (stably) by combining class.
  for (size_t i = 0; i < decomposed.size();) {
    size_t j = i;
    while (j < decomposed.size() && combining_class(decomposed[j]) != 0) ++j;
    if (j - i > 1)
      std::stable_sort(decomposed.begin() + i, decomposed.begin() + j, [](char32_t a, char32_t b) {
        return combining_class(a) < combining_class(b);
      });
    i = j == i ? i + 1 : j;
  }
  // Canonical composition: a character joins the last starter unless a character between them has
  // class 0 or a class not below its own (it is "blocked").
  std::u32string out;
  out.reserve(decomposed.size());
  size_t starter = std::u32string::npos;
  uint8_t last_class = 0;
  for (const char32_t c : decomposed) {
    const uint8_t cls = combining_class(c);
    if (starter != std::u32string::npos) {
      const bool adjacent = starter + 1 == out.size();
      if (adjacent || last_class < cls) {
        if (const char32_t composite = compose(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cls == 0) {
      starter = out.size();
      last_class = 0;
    } else {
      last_class = cls;
    }
    out += c;
  }
  return out;
}

}  // namespace xlstm::generation::unicode
