#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/json.h"
#include "io/json_writer.h"

namespace xlstm::io::json {
namespace {

TEST(IoJsonWriter, WritesMembersInOrderWithTheMetricsLayout) {
  ObjectWriter file;
  file.integer("bytes", 1234567890123).string("fnv1a64", "00ff");
  ObjectWriter manifest;
  manifest.string("format", "a \"quoted\" name")
      .integer("step", -3)
      .number("lr", 0.001)
      .number("third", 1.0 / 3.0)
      .object("files", ObjectWriter().object("model.safetensors", file));
  EXPECT_EQ(manifest.text(),
            "{\"format\": \"a \\\"quoted\\\" name\", \"step\": -3, \"lr\": 0.001, "
            "\"third\": 0.333333333333, \"files\": {\"model.safetensors\": {\"bytes\": "
            "1234567890123, \"fnv1a64\": \"00ff\"}}}");
  EXPECT_EQ(ObjectWriter().text(), "{}");
}

TEST(IoJsonWriter, NonFiniteNumbersAreNullAndTheTextParses) {
  ObjectWriter json;
  json.number("nan", std::nan(""))
      .number("inf", std::numeric_limits<double>::infinity())
      .number("big", 6.02214076e23);
  EXPECT_EQ(json.text(), "{\"nan\": null, \"inf\": null, \"big\": 6.02214076e+23}");
  const Value parsed = parse(json.text());
  EXPECT_EQ(parsed.find("nan")->kind, Value::Kind::null);
  EXPECT_EQ(parsed.find("big")->text, "6.02214076e+23");
}

}  // namespace
}  // namespace xlstm::io::json
