// The text steps of the BPE tokenizer on their own: strict UTF-8 decoding, NFC against compositions
// known by hand (Python's unicodedata agrees), the GPT-2 pre-tokenizer regex on tricky strings and
// the byte-level alphabet.
#include <gtest/gtest.h>

#include <set>

#include "generation/byte_level.h"
#include "generation/unicode.h"

namespace xlstm::generation {
namespace {

std::u32string nfc(const std::u32string& text) {
  return unicode::nfc(text);
}

TEST(BpeText, DecodeUtf8RefusesInvalidBytesWithTheirOffset) {
  EXPECT_EQ(unicode::decode_utf8("a\xC3\xA9\xF0\x9F\x98\x80"), U"a\u00E9\U0001F600");
  const std::pair<std::string, size_t> bad[] = {
      {"ab\xFF", 2},            // never a UTF-8 byte
      {"\xC0\xAF", 0},          // overlong
      {"x\xED\xA0\x80", 1},     // a surrogate
      {"\xF4\x90\x80\x80", 0},  // above U+10FFFF
      {"abc\xE2\x82", 3},       // cut short
      {"\x80", 0},              // a lone continuation byte
  };
  for (const auto& [text, offset] : bad) {
    try {
      unicode::decode_utf8(text);
      ADD_FAILURE() << "accepted byte " << offset;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("at byte " + std::to_string(offset)), std::string::npos)
          << e.what();
    }
  }
}

TEST(BpeText, NfcComposesDecomposesAndOrders) {
  EXPECT_EQ(nfc(U"e\u0301"), U"\u00E9");
  EXPECT_EQ(nfc(U"\u212B"), U"\u00C5");  // ANGSTROM SIGN: a singleton, never composed back
  EXPECT_EQ(nfc(U"\u212A"), U"K");       // KELVIN SIGN
  EXPECT_EQ(nfc(U"\u00C5\u0301"), U"\u01FA");
  EXPECT_EQ(nfc(U"\u1E0B\u0323"), U"\u1E0D\u0307");  // dot below sorts before dot above
  EXPECT_EQ(nfc(U"a\u0328\u0301"), U"\u0105\u0301");
  EXPECT_EQ(nfc(U"a\u0301\u0301"), U"\u00E1\u0301");  // the second acute is blocked
  EXPECT_EQ(nfc(U"\u0301a"), U"\u0301a");             // no starter before the mark
  EXPECT_EQ(nfc(U"\u0344"), U"\u0308\u0301");         // a non-starter decomposition
  EXPECT_EQ(nfc(U"\u0958"), U"\u0915\u093C");         // DEVANAGARI QA: a composition exclusion
  EXPECT_EQ(nfc(U"\u0B47\u0B3E"), U"\u0B4B");         // two starters compose
  EXPECT_EQ(nfc(U"plain ascii"), U"plain ascii");
}

TEST(BpeText, NfcHangul) {
  EXPECT_EQ(nfc(U"\u1100\u1161"), U"\uAC00");        // L + V
  EXPECT_EQ(nfc(U"\u1100\u1161\u11A8"), U"\uAC01");  // L + V + T
  EXPECT_EQ(nfc(U"\uAC00\u11A8"), U"\uAC01");        // LV + T
  EXPECT_EQ(nfc(U"\uAC01\u11A8"), U"\uAC01\u11A8");  // LVT takes no second T
  EXPECT_EQ(nfc(U"\uD55C\uAD6D\uC5B4"), U"\uD55C\uAD6D\uC5B4");
}

std::vector<std::u32string> split(const std::u32string& text) {
  std::vector<std::u32string> pieces;
  for (const auto& [begin, end] : byte_level::split_gpt2(text))
    pieces.push_back(text.substr(begin, end - begin));
  return pieces;
}

using Pieces = std::vector<std::u32string>;

// Each expectation is what Python's `regex` module gives for the same pattern.
TEST(BpeText, Gpt2RegexSplits) {
  EXPECT_EQ(split(U"Hello world"), (Pieces{U"Hello", U" world"}));
  EXPECT_EQ(split(U"  two"), (Pieces{U" ", U" two"}));
  EXPECT_EQ(split(U"a   b"), (Pieces{U"a", U"  ", U" b"}));
  EXPECT_EQ(split(U"it's IT'S we'll"), (Pieces{U"it", U"'s", U" IT", U"'", U"S", U" we", U"'ll"}));
  EXPECT_EQ(split(U"x\n\ny"), (Pieces{U"x", U"\n", U"\n", U"y"}));
  EXPECT_EQ(split(U"trailing   "), (Pieces{U"trailing", U"   "}));
  EXPECT_EQ(split(U"123 4.5"), (Pieces{U"123", U" 4", U".", U"5"}));
  EXPECT_EQ(split(U"\u00A0x"), (Pieces{U"\u00A0", U"x"}));  // only U+0020 joins a word
  EXPECT_EQ(split(U"tabs\tand\r\n"), (Pieces{U"tabs", U"\t", U"and", U"\r\n"}));
  EXPECT_EQ(split(U"?! ..."), (Pieces{U"?!", U" ..."}));
  EXPECT_EQ(split(U"'x'"), (Pieces{U"'", U"x", U"'"}));
  EXPECT_EQ(split(U"caf\u00E9 \u4E2D\u6587 \U0001F600!"),
            (Pieces{U"caf\u00E9", U" \u4E2D\u6587", U" \U0001F600!"}));
  EXPECT_EQ(split(U" "), (Pieces{U" "}));
  EXPECT_TRUE(split(U"").empty());
}

TEST(BpeText, ByteLevelAlphabet) {
  EXPECT_EQ(byte_level::byte_char(' '), U'\u0120');  // 'Ġ'
  EXPECT_EQ(byte_level::byte_char('\n'), U'\u010A');
  EXPECT_EQ(byte_level::byte_char(0), U'\u0100');
  EXPECT_EQ(byte_level::byte_char('a'), U'a');
  EXPECT_EQ(byte_level::byte_char(0xAD), U'\u0143');  // the last byte outside Latin-1's printables
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const char32_t c = byte_level::byte_char(static_cast<uint8_t>(b));
    EXPECT_EQ(byte_level::char_byte(c), b);
    seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_EQ(byte_level::char_byte(U' '), -1);
  EXPECT_EQ(byte_level::char_byte(U'\u0144'), -1);
}

}  // namespace
}  // namespace xlstm::generation
