// Every malformed file is a SafetensorsError naming the file and the problem.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "io/temp_dir.h"
#include "xlstm/io/safetensors.h"

namespace xlstm::io {
namespace {

using testing::TempDir;
using testing::write_bytes;

std::string u64_le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A file: the header length, the header, then `data_bytes` bytes of data.
std::string file_with(const std::string& header, size_t data_bytes) {
  return u64_le(header.size()) + header + std::string(data_bytes, '\0');
}

class IoSafetensorsCorrupt : public ::testing::Test {
 protected:
  // Writes `bytes` and expects reading them to fail with a message containing `problem`.
  void expect_error(const std::string& bytes, const std::string& problem) {
    const std::string path = dir_.file("bad.safetensors");
    write_bytes(path, bytes);
    try {
      read_safetensors(path);
      ADD_FAILURE() << "no error for: " << problem;
    } catch (const SafetensorsError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(problem), std::string::npos)
          << "expected '" << problem << "' in: " << what;
    }
  }
  TempDir dir_;
};

TEST_F(IoSafetensorsCorrupt, MissingFile) {
  EXPECT_THROW(read_safetensors(dir_.file("absent.safetensors")), SafetensorsError);
}

TEST_F(IoSafetensorsCorrupt, NotARegularFile) {
  const auto expect_file_error = [](const std::string& path, const std::string& problem) {
    try {
      read_safetensors(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const SafetensorsError& e) {
      EXPECT_EQ(std::string(e.what()), "safetensors file '" + path + "': " + problem);
    }
  };
  expect_file_error(dir_.path().string(), "is a directory, not a regular file");
  const std::string fifo = dir_.file("fifo.safetensors");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_file_error(fifo, "is a FIFO, not a regular file");  // without blocking
  expect_file_error("/dev/zero", "is a character device, not a regular file");
}

TEST_F(IoSafetensorsCorrupt, ShorterThanEightBytes) {
  expect_error("", "shorter than the 8-byte header length");
  expect_error(std::string("\x02\0\0\0", 4), "shorter than the 8-byte header length");
}

TEST_F(IoSafetensorsCorrupt, HeaderLengthPastEndOrAbsurd) {
  expect_error(u64_le(100) + "{}", "past the end of the file");
  expect_error(u64_le(UINT64_MAX) + "{}", "absurdly large");
  expect_error(u64_le(200'000'000) + "{}", "absurdly large");
}

TEST_F(IoSafetensorsCorrupt, HeaderNotJsonOrNotObject) {
  expect_error(file_with("{\"a\": ", 0), "not valid JSON");
  expect_error(file_with("not json", 0), "not valid JSON");
  expect_error(file_with("[1, 2]", 0), "not a JSON object");
  expect_error(file_with("{\"a\": 3}", 0), "tensor 'a': entry is not a JSON object");
}

TEST_F(IoSafetensorsCorrupt, EntryMissingAField) {
  expect_error(file_with(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", 4),
               "missing \"dtype\"");
  expect_error(file_with(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", 4),
               "missing \"shape\"");
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": [1]}})", 4),
               "missing \"data_offsets\"");
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4),
               "not an array of two integers");
  expect_error(file_with(R"({"w": {"dtype": 3, "shape": [1], "data_offsets": [0, 4]}})", 4),
               "\"dtype\" is not a string");
}

TEST_F(IoSafetensorsCorrupt, UnknownDtype) {
  expect_error(file_with(R"({"w": {"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}})", 4),
               "unknown dtype \"F31\"");
}

TEST_F(IoSafetensorsCorrupt, OffsetsPastTheEnd) {
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4),
               "past the end of the data section");
  expect_error(
      file_with(
          R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [18446744073709551614, 18446744073709551615]}})",
          4),
      "past the end of the data section");
}

TEST_F(IoSafetensorsCorrupt, BeginAfterEnd) {
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8),
               "begin 8 > end 4");
}

TEST_F(IoSafetensorsCorrupt, NegativeOrFractionalOffsets) {
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", 8),
               "not non-negative integers");
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}})", 8),
               "not non-negative integers");
}

TEST_F(IoSafetensorsCorrupt, ByteSizeNotNumelTimesItemsize) {
  expect_error(
      file_with(R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})", 16),
      "does not hold numel 4 * itemsize 4");
}

TEST_F(IoSafetensorsCorrupt, OverlappingRanges) {
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                         12),
               "tensors 'a' and 'b' overlap");
}

TEST_F(IoSafetensorsCorrupt, NegativeAndHugeShapes) {
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
               "shape entry '-1' is not a non-negative integer");
  expect_error(
      file_with(
          R"({"w": {"dtype": "F32", "shape": [99999999999999999999], "data_offsets": [0, 4]}})", 4),
      "not a non-negative integer");
  expect_error(
      file_with(
          R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})",
          4),
      "shape overflows 64 bits");
  expect_error(
      file_with(
          R"({"w": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 4]}})", 4),
      "byte size overflows 64 bits");
  expect_error(file_with(R"({"w": {"dtype": "F32", "shape": "3", "data_offsets": [0, 4]}})", 4),
               "\"shape\" is not an array");
}

TEST_F(IoSafetensorsCorrupt, DuplicateKeys) {
  expect_error(file_with(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                            "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                         2),
               "duplicate key \"w\"");
}

TEST_F(IoSafetensorsCorrupt, BadMetadata) {
  expect_error(file_with(R"({"__metadata__": [1]})", 0), "\"__metadata__\" is not a JSON object");
  expect_error(file_with(R"({"__metadata__": {"k": 1}})", 0),
               "metadata value of 'k' is not a string");
}

TEST_F(IoSafetensorsCorrupt, BoolBytesOtherThanZeroOrOne) {
  const std::string header = R"({"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})";
  expect_error(u64_le(header.size()) + header + std::string("\x01\x07", 2),
               "BOOL byte other than 0 or 1");
}

// Sanity check of the helper: a well-formed hand-written file with a gap and an empty tensor loads.
TEST_F(IoSafetensorsCorrupt, HandWrittenValidFileLoads) {
  const std::string header =
      R"({"e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},
          "x": {"dtype": "I16", "shape": [2], "data_offsets": [4, 8]}})";
  const std::string path = dir_.file("ok.safetensors");
  write_bytes(path,
              u64_le(header.size()) + header + std::string("\xff\xff\xff\xff\x01\x00\xfe\xff", 8));
  const TensorMap t = load_safetensors(path);
  EXPECT_EQ(t.at("e").numel(), 0);
  EXPECT_TRUE(torch::equal(t.at("x"), torch::tensor({1, -2}, torch::kInt16)));
}

}  // namespace
}  // namespace xlstm::io
