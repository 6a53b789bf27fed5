// JSON out: an object built member by member, in the order written, with ", " and ": " between
// them (the layout of metrics.jsonl, summary.json and the checkpoint manifests).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xlstm::io::json {

class ObjectWriter {
 public:
  ObjectWriter& integer(std::string_view key, int64_t value);
  /// `%.12g`; NaN and the infinities, which JSON lacks, as null.
  ObjectWriter& number(std::string_view key, double value);
  ObjectWriter& boolean(std::string_view key, bool value);
  ObjectWriter& string(std::string_view key, std::string_view value);
  ObjectWriter& object(std::string_view key, const ObjectWriter& value);

  /// `{...}`.
  std::string text() const { return "{" + members_ + "}"; }

 private:
  ObjectWriter& member(std::string_view key, const std::string& value);

  std::string members_;
};

}  // namespace xlstm::io::json
