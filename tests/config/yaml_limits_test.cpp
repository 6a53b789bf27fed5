// Hostile YAML: documents that used to overflow the stack, exhaust memory or block end in a
// ConfigError naming the key and the line (limits in src/config/yaml_tree.h).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>

#include "config/yaml_tree.h"
#include "io/temp_dir.h"
#include "xlstm/config/overrides.h"
#include "xlstm/config/yaml.h"

namespace xlstm {
namespace {

using io::testing::TempDir;

ConfigError load_error(const std::string& yaml) {
  try {
    from_yaml_string<xLSTMBlockStackConfig>(yaml, "h.yaml");
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for a document of " << yaml.size() << " bytes";
  return ConfigError("", "");
}

void expect_error(const ConfigError& e, const std::string& key_path, const std::string& location,
                  const std::string& message_part) {
  EXPECT_EQ(e.key_path(), key_path) << e.what();
  EXPECT_EQ(e.location(), location) << e.what();
  EXPECT_NE(e.message().find(message_part), std::string::npos) << e.what();
}

std::string repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

TEST(YamlLimits, RecursiveAliasIsRefused) {
  expect_error(load_error("mlstm_block: &m {mlstm: *m}\n"), "mlstm_block.mlstm", "h.yaml:1",
               "the value contains itself (a recursive alias or merge key)");
  expect_error(load_error("a:\n  b: &x\n    - 1\n    - *x\n"), "a.b[1]", "h.yaml:4",
               "contains itself");
}

TEST(YamlLimits, RecursiveAliasThroughSetIsRefused) {
  TempDir dir;
  const std::string path = dir.file("c.yaml");
  io::testing::write_bytes(path, "num_blocks: 1\n");
  const std::string assignment = "mlstm_block=&m {mlstm: *m}";
  try {
    load_config<xLSTMBlockStackConfig>(path, {ConfigOverride::parse(assignment)});
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    expect_error(e, "mlstm_block.mlstm", "--set " + assignment, "contains itself");
  }
}

TEST(YamlLimits, MergeKeyCycleIsRefused) {
  expect_error(load_error("a: &a {<<: *a, x: 1}\n"), "a.<<", "h.yaml:1", "contains itself");
  expect_error(load_error("a: &a {<<: [{y: 2}, *a]}\n"), "a.<<[1]", "h.yaml:1", "contains itself");
}

TEST(YamlLimits, AliasExpansionIsBounded) {
  // "Billion laughs": a9 would expand to 9^9 lists of nine strings.
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i)
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" +
            repeat("*a" + std::to_string(i - 1) + ", ", 8) + "*a" + std::to_string(i - 1) + "]\n";
  const ConfigError e = load_error(yaml);
  // a0..a4 expand to 10 + 91 + 820 + 7381 + 66430 values: the limit of 100,000 falls inside a5.
  EXPECT_EQ(e.key_path().rfind("a5[", 0), 0u) << e.what();
  EXPECT_EQ(e.location(), "h.yaml:1") << e.what();  // the line of the anchored list
  EXPECT_NE(e.message().find("expands to more than 100000 values"), std::string::npos);
}

TEST(YamlLimits, NestingIsBounded) {
  expect_error(load_error("x: " + repeat("[", 65) + repeat("]", 65) + "\n"),
               "x" + repeat("[0]", 64), "h.yaml:1", "nested deeper than 64 levels");
  // Deeper than yaml-cpp's own guard (some 500 levels), in flow and in block style.
  expect_error(load_error("x: " + repeat("[", 600) + repeat("]", 600) + "\n"), "", "h.yaml:1",
               "nested deeper than 64 levels");
  expect_error(load_error("x:\n  " + repeat("- ", 100000) + "y\n"), "", "h.yaml:2",
               "nested deeper than 64 levels");
}

TEST(YamlLimits, InterpolationChainOf20000LinksIsRefused) {
  std::string yaml;
  for (int i = 0; i < 20000; ++i)
    yaml += "a" + std::to_string(i) + ": ${a" + std::to_string(i + 1) + "}\n";
  yaml += "a20000: 1\n";
  const ConfigError e = load_error(yaml);
  EXPECT_NE(e.message().find("interpolations nest more than 1000 levels deep"), std::string::npos)
      << e.what();
  // Key a<i> sits on line i + 1; two steps per link: the chain is cut at link 500.
  EXPECT_EQ(e.key_path(), "a499") << e.what();
  EXPECT_EQ(e.location(), "h.yaml:500") << e.what();
}

TEST(YamlLimits, NestedInterpolationKeysAreBounded) {
  const ConfigError e =
      load_error("a: " + repeat("${", 5000) + "b" + repeat("}", 5000) + "\nb: b\n");
  expect_error(e, "a", "h.yaml:1", "interpolations nest more than 1000 levels deep");
}

TEST(YamlLimits, StringDoublingInterpolationIsBounded) {
  // a<i> is 2^(i+1) characters: today's std::bad_alloc at a40 or so.
  std::string yaml = "a0: xx\n";
  for (int i = 1; i < 60; ++i) {
    const std::string previous = "${a" + std::to_string(i - 1) + "}";
    yaml += "a" + std::to_string(i) + ": " + previous + previous + "\n";
  }
  // a1..a22 add up to 2^24 - 4 bytes; a23 passes the 16 MiB limit.
  expect_error(load_error(yaml), "a23", "h.yaml:24", "expands to more than 16777216 bytes of text");
}

TEST(YamlLimits, InterpolatedCopiesAreBounded) {
  std::string yaml = "big: [" + repeat("1, ", 4999) + "1]\n";
  for (int i = 0; i < 100; ++i) yaml += "c" + std::to_string(i) + ": ${big}\n";
  // Each copy is 5001 values: the 20th passes 100,000.
  expect_error(load_error(yaml), "c19", "h.yaml:21", "expands to more than 100000 values");
}

TEST(YamlLimits, InterpolationCannotNestDeeperThanTheLimit) {
  const std::string deep = repeat("{a: ", 40) + "1" + repeat("}", 40);
  const ConfigError e =
      load_error("x: " + repeat("{a: ", 30) + "'${y}'" + repeat("}", 30) + "\ny: " + deep + "\n");
  expect_error(e, "x" + repeat(".a", 30), "h.yaml:1", "nested deeper than 64 levels");
}

TEST(YamlLimits, SetKeyPathDepthIsBounded) {
  TempDir dir;
  const std::string path = dir.file("c.yaml");
  io::testing::write_bytes(path, "num_blocks: 1\n");
  const std::string key = "a" + repeat(".a", 64);
  try {
    load_config<xLSTMBlockStackConfig>(path, {ConfigOverride::parse(key + "=1")});
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    expect_error(e, key, "--set " + key + "=1", "nested deeper than 64 levels");
  }
}

TEST(YamlLimits, LongNumberIsTypedWithoutStdRegex) {
  // std::regex recursed once per digit and overflowed the stack on this scalar.
  const std::string digits(200000, '1');
  EXPECT_EQ(yaml_detail::plain_scalar_kind(digits), yaml_detail::Node::Kind::Int);
  EXPECT_EQ(yaml_detail::plain_scalar_kind(digits + ".5"), yaml_detail::Node::Kind::Float);
  expect_error(load_error("context_length: " + digits + "\n"), "context_length", "h.yaml:1",
               "integer " + std::string(60, '1') + "... (200000 characters) is out of range");
}

TEST(YamlLimits, ScalarTypesMatchTheFormerRegexes) {
  // The patterns plain_scalar_kind replaced, on every string up to 5 characters over the symbols
  // that matter, plus the named special values.
  const std::regex int_re("[-+]?(0|[1-9][0-9_]*)");
  const std::regex float_re(
      "[-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+]?[0-9]+)?|[-+]?([0-9][0-9_]*)([eE][-+]?[0-9]+)|"
      "\\.[0-9_]+([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  const auto expected = [&](const std::string& s) {
    using Kind = yaml_detail::Node::Kind;
    if (s.empty()) return Kind::Null;
    if (std::regex_match(s, int_re)) return Kind::Int;
    if (std::regex_match(s, float_re)) return Kind::Float;
    return Kind::String;
  };
  std::vector<std::string> texts = {".inf",  "-.inf", "+.Inf",  ".INF", ".nan", ".NaN", "-.nan",
                                    "+.NAN", ".info", "1.5e+3", "1e-3", "1E9",  "._",   "9.e5"};
  const std::string symbols = "019_.eE-+";
  std::vector<std::string> layer = {""};
  for (int length = 1; length <= 5; ++length) {
    std::vector<std::string> next;
    for (const auto& prefix : layer)
      for (const char c : symbols) next.push_back(prefix + c);
    texts.insert(texts.end(), next.begin(), next.end());
    layer = std::move(next);
  }
  int floats = 0, ints = 0;
  for (const auto& text : texts) {
    const auto kind = yaml_detail::plain_scalar_kind(text);
    EXPECT_EQ(kind, expected(text)) << "'" << text << "'";
    floats += kind == yaml_detail::Node::Kind::Float;
    ints += kind == yaml_detail::Node::Kind::Int;
  }
  EXPECT_GT(floats, 100);
  EXPECT_GT(ints, 100);
}

TEST(YamlLimits, HugeListIndexInInterpolationIsNotFound) {
  // Found by fuzz_yaml_config: std::stoul threw std::out_of_range past the ConfigError handlers.
  expect_error(load_error("l: [1]\nb: ${l.99999999999999999999}\n"), "b", "h.yaml:2",
               "key '99999999999999999999' not found in 'l'");
  const auto root = [](const std::string& yaml) {
    auto tree = yaml_detail::parse_yaml(yaml, "h.yaml");
    yaml_detail::resolve_interpolations(tree, "h.yaml");
    return tree;
  };
  EXPECT_EQ(root("l: [5, 6]\nb: ${l[0000000000000000000000001]}\n").find("b")->text, "6");
}

TEST(YamlLimits, NumBlocksIsBounded) {
  // Found by fuzz_yaml_config: finalize() took time quadratic in num_blocks (and memory linear
  // in it) before it checked anything else.
  expect_error(load_error("mlstm_block: {}\ncontext_length: 4\nnum_blocks: 655362\n"), "num_blocks",
               "h.yaml:3", "655362 is more than the limit of 1000");
}

TEST(YamlLimits, HugeProjectionFactorIsAnError) {
  // Found by fuzz_yaml_config (clang's UBSan): the size went through an out-of-range float-to-int
  // conversion, undefined behaviour.
  for (const char* factor : {"1e300", ".inf"})
    expect_error(load_error(std::string("slstm_block:\n  slstm: {num_heads: 1}\n"
                                        "  feedforward: {proj_factor: ") +
                            factor + "}\nnum_blocks: 1\nembedding_dim: 4\n"),
                 "slstm_block.feedforward.proj_factor", "h.yaml:3", "outside the range of int");
}

TEST(YamlLimits, DocumentSizeIsBounded) {
  const std::string yaml = "x: '" + std::string(2 << 20, 'a') + "'\n";
  expect_error(load_error(yaml), "", "h.yaml", "the document of 2097158 bytes is larger than");
}

ConfigError file_error(const std::string& path) {
  try {
    load_config<xLSTMBlockStackConfig>(path);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << path;
  return ConfigError("", "");
}

TEST(YamlLimits, ConfigFileMustBeARegularFile) {
  TempDir dir;
  expect_error(file_error("/dev/zero"), "", "/dev/zero",
               "is a character device, not a regular file");
  expect_error(file_error(dir.path().string()), "", dir.path().string(),
               "is a directory, not a regular file");
  const std::string fifo = dir.file("fifo.yaml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_error(file_error(fifo), "", fifo, "is a FIFO, not a regular file");  // without blocking
  expect_error(file_error(dir.file("missing.yaml")), "", dir.file("missing.yaml"),
               "cannot open: No such file or directory");
}

TEST(YamlLimits, ConfigFileSizeIsBounded) {
  TempDir dir;
  const std::string path = dir.file("big.yaml");
  io::testing::write_bytes(path, "");
  ASSERT_EQ(truncate(path.c_str(), 2 << 20), 0);  // sparse: 2 MiB of zero bytes
  expect_error(file_error(path), "", path, "file of 2097152 bytes is larger than the 1048576-byte");
}

}  // namespace
}  // namespace xlstm
