#include <gtest/gtest.h>

#include <chrono>

#include "io/json.h"

namespace xlstm::io::json {
namespace {

TEST(IoJson, ParsesNestedValuesInOrder) {
  const Value v = parse(R"( {"b": [1, 2.5e3, -0], "a": {"t": true, "f": false, "n": null}} )");
  ASSERT_EQ(v.kind, Value::Kind::object);
  ASSERT_EQ(v.members.size(), 2u);
  EXPECT_EQ(v.members[0].first, "b");
  const Value* b = v.find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->items.size(), 3u);
  EXPECT_EQ(b->items[0].as_uint64(), 1u);
  EXPECT_EQ(b->items[1].text, "2.5e3");
  EXPECT_FALSE(b->items[1].as_uint64().has_value());
  EXPECT_FALSE(b->items[2].as_uint64().has_value());  // "-0" has a sign
  EXPECT_TRUE(v.find("a")->find("t")->boolean);
  EXPECT_EQ(v.find("a")->find("n")->kind, Value::Kind::null);
  EXPECT_EQ(v.find("missing"), nullptr);
}

TEST(IoJson, DecodesEscapesAndSurrogatePairs) {
  const Value v = parse(R"("a\"b\\c\/\n\t\u00e9\ud83d\ude00")");
  EXPECT_EQ(v.text, "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_THROW(parse(R"("\ud83d")"), std::runtime_error);
  EXPECT_THROW(parse(R"("\x")"), std::runtime_error);
}

TEST(IoJson, Uint64RangeIsChecked) {
  EXPECT_EQ(parse("18446744073709551615").as_uint64(), UINT64_MAX);
  EXPECT_FALSE(parse("18446744073709551616").as_uint64().has_value());
}

TEST(IoJson, RejectsMalformedInput) {
  for (const char* bad : {"", "{", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "01", "1.", "tru", "\"abc",
                          "{} x", "{\"a\":1,\"a\":2}", "{1:2}"})
    EXPECT_THROW(parse(bad), std::runtime_error) << bad;
}

TEST(IoJson, RefusesDeepNesting) {
  EXPECT_NO_THROW(parse(std::string(60, '[') + std::string(60, ']')));
  EXPECT_THROW(parse(std::string(100000, '[')), std::runtime_error);
}

TEST(IoJson, BoundsTheNumberOfValues) {
  std::string at_limit = "[";
  for (size_t i = 1; i < (size_t{1} << 22); ++i) at_limit += "0,";  // the array is a value too
  EXPECT_EQ(parse(at_limit + "0]").items.size(), (size_t{1} << 22) - 1);
  try {
    parse(at_limit + "0,0]");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("more than 4194304 values"), std::string::npos)
        << e.what();
  }
}

TEST(IoJson, ManyKeysParseInLinearTime) {
  // 200,000 keys: the former search of the members per key took some 2e10 comparisons.
  std::string text = "{";
  for (int i = 0; i < 200000; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  const auto start = std::chrono::steady_clock::now();
  const Value v = parse(text + "}");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(v.members.size(), 200000u);
  EXPECT_EQ(v.members.back().first, "k199999");
  EXPECT_LT(seconds, 10.0);  // linear: well below a second, also under the sanitizers
}

TEST(IoJson, QuoteRoundTrips) {
  const std::string s = "x\"y\\z\n\x01\xc3\xa9";
  EXPECT_EQ(quote("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(parse(quote(s)).text, s);
}

TEST(IoJson, DuplicateKeyErrorNamesTheKey) {
  try {
    parse(R"({"w": 1, "w": 2})");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate key \"w\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xlstm::io::json
