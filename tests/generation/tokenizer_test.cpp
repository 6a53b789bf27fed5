// The byte tokenizer (lossless on any bytes, special tokens) and the streaming UTF-8 decoder (valid
// UTF-8 out, a character never split across pieces).
#include "xlstm/generation/byte_tokenizer.h"

#include <random>

#include <gtest/gtest.h>

namespace xlstm::generation {
namespace {

/// Whether `text` is well-formed UTF-8 (the decoder's own rules are not used to check it).
bool valid_utf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    uint32_t code = 0;
    size_t length = 1;
    if (b < 0x80) {
      code = b;
    } else if ((b & 0xE0) == 0xC0) {
      length = 2, code = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      length = 3, code = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      length = 4, code = b & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t j = 1; j < length; ++j) {
      const auto c = static_cast<unsigned char>(text[i + j]);
      if ((c & 0xC0) != 0x80) return false;
      code = code << 6 | (c & 0x3F);
    }
    const uint32_t shortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < shortest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

/// Code point `code` as UTF-8.
std::string utf8(uint32_t code) {
  std::string s;
  if (code < 0x80) {
    s += static_cast<char>(code);
  } else if (code < 0x800) {
    s += static_cast<char>(0xC0 | code >> 6);
    s += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    s += static_cast<char>(0xE0 | code >> 12);
    s += static_cast<char>(0x80 | (code >> 6 & 0x3F));
    s += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | code >> 18);
    s += static_cast<char>(0x80 | (code >> 12 & 0x3F));
    s += static_cast<char>(0x80 | (code >> 6 & 0x3F));
    s += static_cast<char>(0x80 | (code & 0x3F));
  }
  return s;
}

/// Everything the decoder gives for `ids`, piece by piece, then flushed.
std::vector<std::string> stream(const Tokenizer& tokenizer, const std::vector<int64_t>& ids) {
  Utf8StreamDecoder decoder(tokenizer);
  std::vector<std::string> pieces;
  for (const int64_t id : ids) pieces.push_back(decoder.push(id));
  pieces.push_back(decoder.flush());
  return pieces;
}

std::string joined(const std::vector<std::string>& pieces) {
  std::string all;
  for (const auto& piece : pieces) all += piece;
  return all;
}

TEST(ByteTokenizer, RoundTripsRandomBytes) {
  std::mt19937 rng(7);
  const ByteTokenizer tokenizer;
  for (int trial = 0; trial < 50; ++trial) {
    std::string bytes(rng() % 300, '\0');
    for (auto& byte : bytes) byte = static_cast<char>(rng() % 256);
    const auto ids = tokenizer.encode(bytes);
    ASSERT_EQ(ids.size(), bytes.size());
    for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], static_cast<unsigned char>(bytes[i]));
    EXPECT_EQ(tokenizer.decode(ids), bytes);
  }
}

TEST(ByteTokenizer, SpecialTokens) {
  const ByteTokenizer tokenizer;
  EXPECT_EQ(tokenizer.vocab_size(), 259);
  EXPECT_EQ(tokenizer.special_token("<bos>"), 256);
  EXPECT_EQ(tokenizer.special_token("<eos>"), 257);
  EXPECT_EQ(tokenizer.special_token("<pad>"), 258);
  EXPECT_EQ(tokenizer.special_token("<unk>"), std::nullopt);
  EXPECT_TRUE(tokenizer.is_special(257));
  EXPECT_FALSE(tokenizer.is_special(255));
  // Specials decode to nothing; their names in text are plain bytes.
  EXPECT_EQ(tokenizer.decode({'a', 256, 'b', 257}), "ab");
  EXPECT_EQ(tokenizer.encode("<eos>").size(), 5u);
  try {
    tokenizer.token_bytes(259);
    FAIL() << "token 259 was accepted";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("token id 259"), std::string::npos) << e.what();
  }
}

TEST(Utf8StreamDecoder, NeverSplitsACharacter) {
  std::mt19937 rng(3);
  const ByteTokenizer tokenizer;
  // Characters of 1, 2, 3 and 4 bytes (no surrogates).
  const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0x20, 0x7E}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, 0x10FFFF}};
  for (int trial = 0; trial < 50; ++trial) {
    std::string text;
    for (int c = 0; c < 40; ++c) {
      const auto& [low, high] = ranges[rng() % ranges.size()];
      text += utf8(low + rng() % (high - low + 1));
    }
    ASSERT_TRUE(valid_utf8(text));
    const auto pieces = stream(tokenizer, tokenizer.encode(text));
    for (const auto& piece : pieces) ASSERT_TRUE(valid_utf8(piece)) << "a character was split";
    EXPECT_EQ(joined(pieces), text);
  }
}

TEST(Utf8StreamDecoder, HoldsAnUnfinishedCharacterUntilItsLastByte) {
  const ByteTokenizer tokenizer;
  Utf8StreamDecoder decoder(tokenizer);
  const std::string smile = "\xF0\x9F\x98\x80";  // U+1F600
  EXPECT_EQ(decoder.push('a'), "a");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(decoder.push(static_cast<unsigned char>(smile[i])), "");
  EXPECT_EQ(decoder.pending(), smile.substr(0, 3));
  EXPECT_EQ(decoder.push(ByteTokenizer::kEos), "");  // a special token adds no bytes
  EXPECT_EQ(decoder.push(static_cast<unsigned char>(smile[3])), smile);
  EXPECT_EQ(decoder.pending(), "");
}

TEST(Utf8StreamDecoder, InvalidBytesBecomeReplacementCharacters) {
  const ByteTokenizer tokenizer;
  const std::string fffd = "\xEF\xBF\xBD";
  auto decode = [&](const std::string& bytes) {
    return joined(stream(tokenizer, tokenizer.encode(bytes)));
  };
  EXPECT_EQ(decode("\xC3("), fffd + "(");                 // lead byte without continuation
  EXPECT_EQ(decode("a\x80z"), "a" + fffd + "z");          // stray continuation byte
  EXPECT_EQ(decode("\xE2\x82x"), fffd + "x");             // one U+FFFD for the truncated sequence
  EXPECT_EQ(decode("\xC0\xAF"), fffd + fffd);             // overlong form
  EXPECT_EQ(decode("\xED\xA0\x80"), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(decode("ok\xE2\x82"), "ok" + fffd);           // unfinished at the end: flushed
  EXPECT_TRUE(valid_utf8(decode("\xFF\xFE\xF5\xF8")));
}

}  // namespace
}  // namespace xlstm::generation
