// Unicode text for the BPE tokenizer: strict UTF-8 decoding, the character classes of the GPT-2
// pre-tokenizer regex (\p{L}, \p{N}, \s) and NFC normalisation (tables: unicode_tables.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xlstm::generation::unicode {

/// Bytes of the UTF-8 sequence that `lead` starts; 0 when `lead` cannot start one.
size_t utf8_sequence_length(unsigned char lead);
/// Whether `byte` may be byte `index` (1, 2, 3) of a sequence led by `lead`. The second byte's
/// range excludes overlong forms, surrogates and code points above U+10FFFF.
bool utf8_continues(unsigned char lead, size_t index, unsigned char byte);

/// The code points of `text`; std::invalid_argument naming the byte offset of the first byte that
/// is not valid UTF-8 (overlong forms, surrogates and code points above U+10FFFF included).
std::u32string decode_utf8(std::string_view text);
/// Appends the UTF-8 bytes of `code` (at most U+10FFFF) to `out`.
void append_utf8(std::string& out, char32_t code);
std::string encode_utf8(std::u32string_view text);

bool is_letter(char32_t c);       // general category L*
bool is_number(char32_t c);       // general category N*
bool is_white_space(char32_t c);  // the White_Space property
uint8_t combining_class(char32_t c);

/// Unicode Normalization Form C: canonical decomposition, canonical ordering, then canonical
/// composition (composition exclusions and Hangul syllables included).
std::u32string nfc(std::u32string_view text);

}  // namespace xlstm::generation::unicode
