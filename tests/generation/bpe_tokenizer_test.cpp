// The BPE tokenizer of a tokenizer.json: the ids of tests/data/large/tokenizer_encodings.json
// (made by the `tokenizers` library, scripts/make_reference_large.py) for both shipped files, then
// the rules one at a time on small files made here, hostile files (each error names its key), the
// round trip of text and the speed of a 50k-token file.
#include "xlstm/generation/bpe_tokenizer.h"

#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "generation/byte_level.h"
#include "generation/unicode.h"
#include "io/json.h"
#include "xlstm/io/read_file.h"

namespace xlstm::generation {
namespace {

const std::string kLarge = std::string(XLSTM_SOURCE_DIR) + "/tests/data/large/";

std::string file(const std::string& name) {
  return io::read_regular_file(kLarge + name, uint64_t{1} << 24);
}

std::vector<int64_t> ids_of(const io::json::Value& list) {
  std::vector<int64_t> ids;
  for (const auto& v : list.items) ids.push_back(static_cast<int64_t>(*v.as_uint64()));
  return ids;
}

std::string without(std::string text, const std::string& part) {
  for (size_t at; (at = text.find(part)) != std::string::npos;) text.erase(at, part.size());
  return text;
}

TEST(BpeTokenizer, MatchesTokenizersOnTheReferenceTexts) {
  const auto plain = BpeTokenizer::from_file(kLarge + "tokenizer.json");
  const auto bos = BpeTokenizer::from_file(kLarge + "tokenizer_bos.json");
  const auto rows = io::json::parse(file("tokenizer_encodings.json"));
  ASSERT_EQ(rows.items.size(), 22u);
  for (const auto& row : rows.items) {
    const std::string& text = row.find("text")->text;
    const std::vector<int64_t> ids = ids_of(*row.find("ids"));
    const std::string& decoded = row.find("decoded")->text;
    EXPECT_EQ(plain.encode(text), ids) << text;
    EXPECT_EQ(bos.encode(text), ids_of(*row.find("ids_bos"))) << text;
    EXPECT_EQ(plain.decode_with_special_tokens(ids), decoded) << text;
    // decode() drops the special tokens: the three of the file are all that tells them apart.
    std::string plain_text = decoded;
    for (const char* special : {"<|endoftext|>", "<|padding|>", "<|im_start|>"})
      plain_text = without(plain_text, special);
    EXPECT_EQ(plain.decode(ids), plain_text) << text;
    EXPECT_EQ(bos.decode(bos.encode(text)), plain_text) << text;
  }
}

TEST(BpeTokenizer, SpecialAndAddedTokensOfTheReferenceFile) {
  const auto plain = BpeTokenizer::from_file(kLarge + "tokenizer.json");
  const auto bos = BpeTokenizer::from_file(kLarge + "tokenizer_bos.json");
  EXPECT_EQ(plain.vocab_size(), 503);
  EXPECT_EQ(plain.special_token("<|endoftext|>"), 0);
  EXPECT_EQ(plain.special_token("<|im_start|>"), 502);
  EXPECT_EQ(plain.special_token("<eos>"), 0);  // GPT-NeoX's end of text
  EXPECT_EQ(plain.special_token("<pad>"), 1);
  EXPECT_EQ(plain.special_token("<bos>"), std::nullopt);
  EXPECT_EQ(bos.special_token("<bos>"), 0);              // what the template prepends
  EXPECT_EQ(plain.special_token("    "), std::nullopt);  // an added token, not a special one
  EXPECT_TRUE(plain.is_special(0) && plain.is_special(1) && plain.is_special(502));
  EXPECT_FALSE(plain.is_special(500) || plain.is_special(2) || plain.is_special(503));
  EXPECT_EQ(plain.token_bytes(0), "");
  EXPECT_EQ(plain.token_bytes(500), "    ");
  EXPECT_EQ(plain.token_bytes(501), std::string(8, ' '));
  EXPECT_EQ(plain.token(0), "<|endoftext|>");
  EXPECT_EQ(plain.token_to_id("<|im_start|>"), 502);
  EXPECT_EQ(plain.token_to_id("no such token"), std::nullopt);
  EXPECT_THROW(plain.token_bytes(503), std::out_of_range);
  EXPECT_THROW(plain.token_bytes(-1), std::out_of_range);
  EXPECT_THROW(plain.decode({5, 503}), std::out_of_range);
  const auto picked = BpeTokenizer::from_file(kLarge + "tokenizer.json", {"<|im_start|>", "", ""});
  EXPECT_EQ(picked.special_token("<bos>"), 502);
  try {
    BpeTokenizer::from_file(kLarge + "tokenizer.json", {"<nope>", "", ""});
    ADD_FAILURE() << "an unknown option token was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("BpeTokenizerOptions.bos: \"<nope>\""), std::string::npos)
        << e.what();
  }
}

/// Random valid UTF-8: code points of every length (surrogates left out), with runs of spaces.
std::string random_text(std::mt19937& rng, size_t length) {
  std::string text;
  std::uniform_int_distribution<int> kind(0, 5);
  for (size_t i = 0; i < length; ++i) {
    char32_t c = 0;
    switch (kind(rng)) {
      case 0:
        c = ' ';
        break;
      case 1:
        c = std::uniform_int_distribution<char32_t>(0, 0x7F)(rng);
        break;
      case 2:
        c = std::uniform_int_distribution<char32_t>(0x80, 0x7FF)(rng);
        break;
      case 3:
        c = std::uniform_int_distribution<char32_t>(0x800, 0xD7FF)(rng);
        break;
      case 4:
        c = std::uniform_int_distribution<char32_t>(0xE000, 0xFFFF)(rng);
        break;
      default:
        c = std::uniform_int_distribution<char32_t>(0x10000, 0x10FFFF)(rng);
    }
    unicode::append_utf8(text, c);
  }
  return text;
}

// Without the special tokens' spellings in it, any valid UTF-8 comes back as its NFC form; the
// file without its normalizer gives the text back byte for byte. Bytes that are not UTF-8 are
// refused with their offset, never a crash.
TEST(BpeTokenizer, RoundTripsText) {
  const auto nfc_file = BpeTokenizer::from_file(kLarge + "tokenizer.json");
  std::string json = file("tokenizer.json");
  const std::string normalizer = "\"normalizer\": {\n    \"type\": \"NFC\"\n  }";
  ASSERT_NE(json.find(normalizer), std::string::npos);
  json.replace(json.find(normalizer), normalizer.size(), "\"normalizer\": null");
  const auto raw_file = BpeTokenizer::from_json(json);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const std::string text = random_text(rng, trial % 40);
    EXPECT_EQ(raw_file.decode(raw_file.encode(text)), text);
    EXPECT_EQ(nfc_file.decode(nfc_file.encode(text)),
              unicode::encode_utf8(unicode::nfc(unicode::decode_utf8(text))));
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes(trial % 12, '\0');
    for (char& b : bytes) b = static_cast<char>(byte(rng));
    try {
      EXPECT_EQ(raw_file.decode(raw_file.encode(bytes)), bytes);
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8 at byte"), std::string::npos);
    }
  }
  try {
    raw_file.encode("ok \xC3\xA9 then \xFF");
    ADD_FAILURE() << "invalid UTF-8 was encoded";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "BpeTokenizer: the text is not valid UTF-8 at byte 11");
  }
}

TEST(BpeTokenizer, EncodesFromManyThreadsAlike) {
  const auto tokenizer = BpeTokenizer::from_file(kLarge + "tokenizer.json");
  std::mt19937 rng(3);
  const std::string text = random_text(rng, 3000);
  const std::vector<int64_t> expected = tokenizer.encode(text);
  std::vector<std::vector<int64_t>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) threads.emplace_back([&] { result = tokenizer.encode(text); });
  for (auto& t : threads) t.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

// ---- small files made here -------------------------------------------------------------------

std::string quote(const std::string& s) {
  return io::json::quote(s);
}

/// The byte-level character of each byte of `text`, as a token string.
std::string shown(const std::string& text) {
  std::string token;
  for (const char b : text) unicode::append_utf8(token, byte_level::byte_char(b));
  return token;
}

/// A tokenizer.json with the 256 byte tokens (id = byte) and `extra` tokens from 256 on.
struct FileParts {
  std::vector<std::string> extra;
  std::string merges = "[]";
  std::string added = "[]";
  std::string normalizer = "null";
  std::string pre_tokenizer =
      R"({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})";
  std::string post_processor = "null";
  std::string decoder = R"({"type": "ByteLevel"})";
  std::string model_keys = R"("type": "BPE", "dropout": null, "unk_token": null)";
  std::string top_keys = R"("version": "1.0", "truncation": null, "padding": null)";

  std::string vocab() const {
    std::string out;
    for (int b = 0; b < 256; ++b)
      out += (b ? ", " : "") + quote(shown(std::string(1, static_cast<char>(b)))) + ": " +
             std::to_string(b);
    for (size_t i = 0; i < extra.size(); ++i)
      out += ", " + quote(extra[i]) + ": " + std::to_string(256 + i);
    return "{" + out + "}";
  }

  std::string json() const {
    return "{" + top_keys + ", \"added_tokens\": " + added + ", \"normalizer\": " + normalizer +
           ", \"pre_tokenizer\": " + pre_tokenizer + ", \"post_processor\": " + post_processor +
           ", \"decoder\": " + decoder + ", \"model\": {" + model_keys + ", \"vocab\": " + vocab() +
           ", \"merges\": " + merges + "}}";
  }

  BpeTokenizer load() const { return BpeTokenizer::from_json(json(), "t.json"); }
};

std::vector<int64_t> bytes_of(const std::string& text) {
  std::vector<int64_t> ids;
  for (const char b : text) ids.push_back(static_cast<unsigned char>(b));
  return ids;
}

TEST(BpeTokenizer, MergesTheLowestRankFirst) {
  FileParts parts;
  parts.extra = {"ab", "bc"};  // 256, 257
  parts.merges = R"(["b c", "a b"])";
  EXPECT_EQ(parts.load().encode("abc"), (std::vector<int64_t>{'a', 257}));
  parts.merges = R"([["a", "b"], ["b", "c"]])";  // the pair form
  EXPECT_EQ(parts.load().encode("abc"), (std::vector<int64_t>{256, 'c'}));
  // Equal pairs merge from the left: "aaa" -> "aa" "a".
  parts.extra = {"aa"};
  parts.merges = R"(["a a"])";
  EXPECT_EQ(parts.load().encode("aaa"), (std::vector<int64_t>{256, 'a'}));
  EXPECT_EQ(parts.load().encode("aaaa"), (std::vector<int64_t>{256, 256}));
}

TEST(BpeTokenizer, IgnoreMergesTakesAWholeWord) {
  FileParts parts;
  parts.extra = {"ab", "abc"};  // no merge makes "abc"
  parts.merges = R"(["a b"])";
  EXPECT_EQ(parts.load().encode("abc"), (std::vector<int64_t>{256, 'c'}));
  parts.model_keys += R"(, "ignore_merges": true)";
  EXPECT_EQ(parts.load().encode("abc"), (std::vector<int64_t>{257}));
  EXPECT_EQ(parts.load().encode("abd"), (std::vector<int64_t>{256, 'd'}));
}

TEST(BpeTokenizer, PreTokenizerOptions) {
  FileParts parts;
  parts.extra = {shown("a ")};
  parts.merges = "[" + quote("a " + shown(" ")) + "]";
  // The regex keeps "a" and " b" apart; without it the pair "a" + " " merges.
  EXPECT_EQ(parts.load().encode("a b"), (std::vector<int64_t>{'a', ' ', 'b'}));
  parts.pre_tokenizer =
      R"({"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})";
  EXPECT_EQ(parts.load().encode("a b"), (std::vector<int64_t>{256, 'b'}));
  parts.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": true})";
  parts.added = R"([{"id": 257, "content": "<s>", "special": true}])";
  EXPECT_EQ(parts.load().encode("b"), (std::vector<int64_t>{' ', 'b'}));
  EXPECT_EQ(parts.load().encode(" b"), (std::vector<int64_t>{' ', 'b'}));
  // Each piece between added tokens gets its own space.
  EXPECT_EQ(parts.load().encode("b<s>c"), (std::vector<int64_t>{' ', 'b', 257, ' ', 'c'}));
}

// An added token with "normalized": true matches the NFC text (so a decomposed é too), one with
// false the raw text only; the longest match wins where two start.
TEST(BpeTokenizer, AddedTokensMatchRawOrNormalisedText) {
  FileParts parts;
  parts.normalizer = R"({"type": "Sequence", "normalizers": [{"type": "NFC"}]})";
  // U+0151 (o with double acute) and its decomposition o + U+030B.
  parts.added = "[{\"id\": 256, \"content\": \"\xC5\x91\", \"normalized\": true}]";
  const std::string decomposed = "o\xCC\x8B";
  EXPECT_EQ(parts.load().encode(decomposed), (std::vector<int64_t>{256}));
  EXPECT_EQ(parts.load().token_bytes(256), "\xC5\x91");
  parts.added = "[{\"id\": 256, \"content\": \"\xC5\x91\", \"normalized\": false}]";
  EXPECT_EQ(parts.load().encode(decomposed), (std::vector<int64_t>{0xC5, 0x91}));
  EXPECT_EQ(parts.load().encode("\xC5\x91"), (std::vector<int64_t>{256}));
  parts.added = R"([{"id": 256, "content": "<a>", "special": true},
                    {"id": 257, "content": "<a><b>", "special": true}])";
  EXPECT_EQ(parts.load().encode("x<a><b><a>"), (std::vector<int64_t>{'x', 257, 256}));
  EXPECT_EQ(parts.load().decode({'x', 257, 256}), "x");
  EXPECT_EQ(parts.load().decode_with_special_tokens({'x', 257, 256}), "x<a><b><a>");
}

TEST(BpeTokenizer, TemplateProcessingAddsItsTokens) {
  FileParts parts;
  parts.added = R"([{"id": 256, "content": "<s>", "special": true},
                    {"id": 257, "content": "</s>", "special": true}])";
  parts.post_processor = R"({"type": "Sequence", "processors": [{"type": "ByteLevel"},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "</s>", "type_id": 0}}],
       "pair": [],
       "special_tokens": {"<s>": {"id": "<s>", "ids": [256], "tokens": ["<s>"]},
                          "</s>": {"id": "</s>", "ids": [257], "tokens": ["</s>"]}}}]})";
  const auto tokenizer = parts.load();
  EXPECT_EQ(tokenizer.encode("hi"), (std::vector<int64_t>{256, 'h', 'i', 257}));
  EXPECT_EQ(tokenizer.encode(""), (std::vector<int64_t>{256, 257}));
  EXPECT_EQ(tokenizer.special_token("<bos>"), 256);
  EXPECT_EQ(tokenizer.special_token("<eos>"), 257);  // spelled "</s>"
}

// ---- hostile files: each error names the file and the key --------------------------------------

void expect_refused(const FileParts& parts, const std::string& message) {
  try {
    parts.load();
    ADD_FAILURE() << "accepted; expected: " << message;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("t.json: " + message), std::string::npos) << e.what();
  }
}

void expect_refused_json(const std::string& json, const std::string& message) {
  try {
    BpeTokenizer::from_json(json, "t.json");
    ADD_FAILURE() << "accepted; expected: " << message;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("t.json: " + message), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizerErrors, NotJsonOrNotAnObject) {
  expect_refused_json("{\"model\": ", "JSON: ");
  expect_refused_json("[1, 2]", "expected an object, got an array");
  expect_refused_json("{}", "model: missing");
}

TEST(BpeTokenizerErrors, UnsupportedModelSettings) {
  const std::pair<std::string, std::string> cases[] = {
      {R"("type": "WordPiece")", "model.type: \"WordPiece\" is not supported"},
      {R"("dropout": 0.1)", "model.dropout: only null"},
      {R"("unk_token": "<unk>")", "model.unk_token: only null"},
      {R"("byte_fallback": true)", "model.byte_fallback: only false"},
      {R"("continuing_subword_prefix": "##")", "model.continuing_subword_prefix: only null"},
      {R"("end_of_word_suffix": "</w>")", "model.end_of_word_suffix: only null"},
      {R"("ignore_merges": 1)", "model.ignore_merges: expected a boolean, got a number"},
  };
  for (const auto& [keys, message] : cases) {
    FileParts parts;
    parts.model_keys = keys;
    expect_refused(parts, message);
  }
}

TEST(BpeTokenizerErrors, BadVocabulary) {
  FileParts parts;
  parts.extra = {"ab"};
  std::string json = parts.json();
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = json;
    changed.replace(changed.find(from), from.size(), to);
    return changed;
  };
  expect_refused_json(with("\"ab\": 256", "\"ab\": 300"),
                      "model.vocab[\"ab\"]: id 300 is outside 0..256");
  expect_refused_json(with("\"ab\": 256", "\"ab\": 5"),
                      "model.vocab[\"ab\"]: id 5 is also the id of \"\xC4\x85\"");
  expect_refused_json(with("\"ab\": 256", "\"ab\": -1"),
                      "model.vocab[\"ab\"]: expected a non-negative whole number");
  expect_refused_json(with("\"ab\": 256", "\"ab\": 18446744073709551616"),
                      "model.vocab[\"ab\"]: expected a non-negative whole number");
  expect_refused_json(with("\"ab\": 256", "\"ab\": \"256\""),
                      "model.vocab[\"ab\"]: expected a non-negative whole number, got a string");
  expect_refused_json(with("\"ab\": 256", "\"a\xFF\": 256"),
                      "model.vocab[\"a\xFF\"]: the text is not valid UTF-8 at byte 1");
  expect_refused_json(with("\"a\": 97", "\"A2\": 97"),
                      "model.vocab: the byte-level character \"a\" (byte 0x61) is missing");
  expect_refused_json(with("\"vocab\": {", "\"vocab\": 1, \"other\": {"),
                      "model.vocab: expected an object, got a number");
}

TEST(BpeTokenizerErrors, BadMerges) {
  FileParts parts;
  parts.extra = {"ab"};
  const std::pair<std::string, std::string> cases[] = {
      {R"(["a b", "a c"])", "model.merges[1]: the merged token \"ac\" is not in model.vocab"},
      {R"(["a b", "x ab"])", "model.merges[1]: the merged token \"xab\" is not in model.vocab"},
      {R"(["ab zz"])", "model.merges[0]: the right part \"zz\" is not in model.vocab"},
      {R"(["a  b"])", "model.merges[0]: expected \"left right\" with one space"},
      {R"(["ab"])", "model.merges[0]: expected \"left right\" with one space"},
      {R"([["a", "b", "c"]])",
       "model.merges[0]: expected \"left right\" or [left, right], got an "
       "array of 3"},
      {R"([["a", 1]])", "model.merges[0][1]: expected a string, got a number"},
      {R"([7])", "model.merges[0]: expected \"left right\" or [left, right], got a number"},
      {R"({})", "model.merges: expected an array, got an object"},
  };
  for (const auto& [merges, message] : cases) {
    parts.merges = merges;
    expect_refused(parts, message);
  }
}

TEST(BpeTokenizerErrors, BadAddedTokens) {
  const std::pair<std::string, std::string> cases[] = {
      {R"([{"id": 300, "content": "<s>"}])",
       "added_tokens[0].id: id 300, but \"<s>\" gets id 256 (the next free id)"},
      {R"([{"id": 256, "content": "a"}])",
       "added_tokens[0].id: id 256, but \"a\" gets id 97 (its id in model.vocab)"},
      {R"([{"id": 256, "content": "<s>"}, {"id": 257, "content": "<s>"}])",
       "added_tokens[1].content: \"<s>\" is also added_tokens[0]"},
      {R"([{"id": 256, "content": "<s>", "lstrip": true}])",
       "added_tokens[0].lstrip: true is not supported"},
      {R"([{"id": 256, "content": "<s>", "single_word": true}])",
       "added_tokens[0].single_word: true is not supported"},
      {R"([{"id": 256, "content": ""}])", "added_tokens[0].content: empty"},
      {R"([{"content": "<s>"}])", "added_tokens[0].id: missing"},
      {R"([{"id": 256, "content": "<s>", "special": "yes"}])",
       "added_tokens[0].special: expected a boolean, got a string"},
      {R"({"id": 256})", "added_tokens: expected an array, got an object"},
  };
  for (const auto& [added, message] : cases) {
    FileParts parts;
    parts.added = added;
    expect_refused(parts, message);
  }
}

TEST(BpeTokenizerErrors, UnsupportedPipelineSteps) {
  FileParts parts;
  parts.normalizer = R"({"type": "NFKC"})";
  expect_refused(parts, "normalizer.type: \"NFKC\" is not supported");
  parts.normalizer =
      R"({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]})";
  expect_refused(parts, "normalizer.normalizers[1].type: \"Lowercase\" is not supported");
  parts = FileParts();
  parts.pre_tokenizer = R"({"type": "Whitespace"})";
  expect_refused(parts, "pre_tokenizer.type: \"Whitespace\" is not supported");
  parts.pre_tokenizer =
      R"({"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false}, {"type": "ByteLevel", "add_prefix_space": false}]})";
  expect_refused(parts, "pre_tokenizer: more than one ByteLevel");
  parts.pre_tokenizer = R"({"type": "ByteLevel"})";
  expect_refused(parts, "pre_tokenizer.add_prefix_space: missing");
  parts = FileParts();
  parts.post_processor = R"({"type": "RobertaProcessing"})";
  expect_refused(parts, "post_processor.type: \"RobertaProcessing\" is not supported");
  parts.post_processor =
      R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
      {"Sequence": {"id": "A"}}], "special_tokens": {}})";
  expect_refused(parts, "post_processor.single[0].SpecialToken.id: \"<s>\" is not in");
  parts.post_processor =
      R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
      {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [256]}}})";
  expect_refused(parts,
                 "post_processor.special_tokens[\"<s>\"].ids[0]: id 256 is outside the vocabulary");
  parts.post_processor = R"({"type": "TemplateProcessing", "single": [{"Sequence": {"id": "B"}}],
      "special_tokens": {}})";
  expect_refused(parts, "post_processor.single[0].Sequence.id: only $A");
  parts = FileParts();
  parts.decoder = R"({"type": "WordPiece"})";
  expect_refused(parts, "decoder.type: \"WordPiece\" is not supported");
  parts.decoder = "null";
  expect_refused(parts, "decoder: expected an object, got null");
  parts = FileParts();
  parts.top_keys = R"("truncation": {"max_length": 8})";
  expect_refused(parts, "truncation: only null");
}

TEST(BpeTokenizerErrors, FilesThatAreNoTokenizer) {
  for (const std::string path : {"/nonexistent/tokenizer.json", "/dev/zero"}) {
    try {
      BpeTokenizer::from_file(path);
      ADD_FAILURE() << path << " was read";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

// ---- speed: a GPT-2-sized file ---------------------------------------------------------------

/// Words over a small alphabet; a file whose merges build each word left to right, ~50k merges.
struct SyntheticVocab {
  std::vector<std::string> words;
  FileParts parts;

  SyntheticVocab() {
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> letter(0, 25), length(2, 9);
    std::unordered_map<std::string, bool> known;
    std::string merges;
    size_t merge_count = 0;
    while (merge_count < 50000) {
      std::string word = " ";  // GPT-2's words start with their space
      const int n = length(rng);
      for (int i = 0; i < n; ++i) word += static_cast<char>('a' + letter(rng));
      words.push_back(word);
      std::string prefix = shown(word.substr(0, 1));
      for (size_t i = 1; i < word.size(); ++i) {
        const std::string next = shown(word.substr(i, 1));
        if (!known[prefix + next]) {
          known[prefix + next] = true;
          parts.extra.push_back(prefix + next);
          merges += (merge_count++ ? ", " : "") + quote(prefix + " " + next);
        }
        prefix += next;
      }
    }
    parts.merges = "[" + merges + "]";
  }
};

#ifdef __SANITIZE_ADDRESS__
constexpr double kSlowdown = 10;  // scripts/sanitize.sh's build
#else
constexpr double kSlowdown = 1;
#endif

TEST(BpeTokenizer, LoadsAndEncodesAGpt2SizedFileFast) {
  const SyntheticVocab synthetic;
  const std::string json = synthetic.parts.json();
  const auto start = std::chrono::steady_clock::now();
  const auto tokenizer = BpeTokenizer::from_json(json);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(tokenizer.vocab_size(), 50000);
  std::string text;
  std::mt19937 rng(5);
  while (text.size() < (size_t{1} << 20))
    text += synthetic.words[rng() % synthetic.words.size()] + (rng() % 8 ? "" : ".\n");
  const auto encode_start = std::chrono::steady_clock::now();
  const std::vector<int64_t> ids = tokenizer.encode(text);
  const double encode_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - encode_start).count();
  EXPECT_EQ(tokenizer.decode(ids), text);
  EXPECT_LT(ids.size(), text.size() / 4);  // whole words are tokens
  std::cout << "load " << load_s << " s (" << json.size() << " bytes), encode "
            << text.size() / encode_s / 1e6 << " MB/s\n";
  EXPECT_LT(load_s, 1.0 * kSlowdown);
  EXPECT_LT(encode_s, 1.0 * kSlowdown);  // over 1 MB/s
}

}  // namespace
}  // namespace xlstm::generation
