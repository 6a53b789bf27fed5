// The byte-level pre-tokenizer of GPT-2 (and GPT-NeoX): the split of text by GPT-2's regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// written out by hand (leftmost alternative first, as a backtracking regex engine takes it), and
// the alphabet that shows each byte as one printable character.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xlstm::generation::byte_level {

/// The character that byte `b` is shown as: printable Latin-1 bytes as themselves, the other 68
/// bytes as U+0100.. in byte order (so a space is U+0120 'Ġ').
char32_t byte_char(uint8_t b);
/// The byte that `c` shows, or -1 when `c` is not in the alphabet.
int char_byte(char32_t c);

/// The pre-tokens of `text` as [begin, end) code point offsets, in order and covering it all.
std::vector<std::pair<size_t, size_t>> split_gpt2(std::u32string_view text);

}  // namespace xlstm::generation::byte_level
