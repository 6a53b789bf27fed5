#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "io/json.h"
#include "io/temp_dir.h"
#include "xlstm/io/safetensors.h"

namespace xlstm::io {
namespace {

using testing::read_bytes;
using testing::TempDir;

torch::Tensor sample(torch::ScalarType dtype, std::vector<int64_t> shape) {
  torch::manual_seed(static_cast<uint64_t>(dtype));
  if (dtype == torch::kBool) return torch::randint(0, 2, shape).to(torch::kBool);
  if (c10::isFloatingType(dtype)) return (torch::randn(shape) * 100).to(dtype);
  const int64_t high = dtype == torch::kUInt8 ? 256 : 128;
  const int64_t low = dtype == torch::kUInt8 ? 0 : -128;
  return torch::randint(low, high, shape).to(dtype);
}

TEST(IoSafetensors, RoundTripsEveryDtype) {
  TempDir dir;
  const std::pair<const char*, torch::ScalarType> dtypes[] = {
      {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
      {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
      {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
      {"BOOL", torch::kBool}};
  TensorMap tensors;
  for (const auto& [name, dtype] : dtypes) {
    tensors[std::string(name) + ".matrix"] = sample(dtype, {3, 5});
    tensors[std::string(name) + ".scalar"] = sample(dtype, {});
    tensors[std::string(name) + ".empty"] = sample(dtype, {0, 4});
  }
  const std::string path = dir.file("all.safetensors");
  save_safetensors(path, tensors);
  const TensorMap loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), tensors.size());
  for (const auto& [key, expected] : tensors) {
    const torch::Tensor& got = loaded.at(key);
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << key;
    EXPECT_EQ(got.sizes(), expected.sizes()) << key;
    EXPECT_TRUE(torch::equal(got, expected)) << key;
  }
  // The header names the safetensors dtypes.
  const std::string bytes = read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const json::Value header = json::parse(bytes.substr(8, n));
  for (const auto& [name, dtype] : dtypes)
    EXPECT_EQ(header.find(std::string(name) + ".matrix")->find("dtype")->text, name);
  // Every tensor's data starts at a multiple of its item size.
  for (const auto& [key, entry] : header.members)
    EXPECT_EQ(*entry.find("data_offsets")->items[0].as_uint64() % tensors.at(key).element_size(),
              0u)
        << key;
}

TEST(IoSafetensors, HeaderIsPaddedAndDataContiguous) {
  TempDir dir;
  const std::string path = dir.file("pad.safetensors");
  save_safetensors(path, {{"a", torch::arange(3, torch::kInt8)}, {"b", torch::ones({2})}},
                   {{"k", "v"}});
  const std::string bytes = read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 3 + 2 * 4);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));
  const json::Value v = json::parse(header);
  // Larger items first: b (F32) at [0, 8), then a (I8) at [8, 11).
  EXPECT_EQ(v.find("b")->find("data_offsets")->items[0].as_uint64(), 0u);
  EXPECT_EQ(v.find("a")->find("data_offsets")->items[0].as_uint64(), 8u);
  EXPECT_EQ(v.find("a")->find("data_offsets")->items[1].as_uint64(), 11u);
  EXPECT_EQ(v.find("__metadata__")->find("k")->text, "v");
  EXPECT_EQ(static_cast<signed char>(bytes[8 + n + 8 + 2]), 2);  // a = [0, 1, 2] as raw bytes
}

TEST(IoSafetensors, MetadataRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("meta.safetensors");
  const Metadata metadata{
      {"format", "pt"}, {"quote\"and\\slash", "line\nbreak \xc3\xa9"}, {"", ""}};
  save_safetensors(path, {{"x", torch::zeros({1})}}, metadata);
  const SafetensorsContents contents = read_safetensors(path);
  EXPECT_EQ(contents.metadata, metadata);
  EXPECT_EQ(contents.tensors.size(), 1u);
}

TEST(IoSafetensors, SavesContiguousCopiesOfViews) {
  TempDir dir;
  const std::string path = dir.file("views.safetensors");
  const torch::Tensor base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  save_safetensors(path, {{"t", base.t()}, {"slice", base.index({torch::indexing::Slice(), 1})}});
  const TensorMap loaded = load_safetensors(path);
  EXPECT_TRUE(torch::equal(loaded.at("t"), base.t()));
  EXPECT_TRUE(torch::equal(loaded.at("slice"), torch::tensor({1.f, 5.f, 9.f})));
}

TEST(IoSafetensors, OverwritesAtomicallyWithoutLeftovers) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"x", torch::zeros({2})}});
  save_safetensors(path, {{"y", torch::ones({3})}});
  const TensorMap loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_TRUE(torch::equal(loaded.at("y"), torch::ones({3})));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(IoSafetensors, FailedSaveLeavesTargetAndNoTempFile) {
  TempDir dir;
  const std::string path = dir.file("keep.safetensors");
  save_safetensors(path, {{"x", torch::zeros({2})}});
  EXPECT_THROW(save_safetensors(path, {{"c", torch::zeros({2}, torch::kComplexFloat)}}),
               SafetensorsError);
  EXPECT_THROW(save_safetensors(path, {{"__metadata__", torch::zeros({2})}}), SafetensorsError);
  EXPECT_THROW(save_safetensors(path, {{"u", torch::Tensor()}}), SafetensorsError);
  EXPECT_THROW(save_safetensors(dir.file("no/such/dir.safetensors"), {{"x", torch::zeros({1})}}),
               SafetensorsError);
  EXPECT_TRUE(load_safetensors(path).count("x"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

// Every golden fixture loads; its shapes agree with meta.json.
TEST(IoSafetensors, GoldenFixturesLoadWithTheirShapes) {
  for (const char* name :
       {"mlstm_stack_small", "slstm_stack_small", "readme_stack", "lm_parity_xlstm11", "lm_tied"}) {
    SCOPED_TRACE(name);
    const std::string dir = std::string(XLSTM_TEST_DATA_DIR) + "/reference/" + name;
    const json::Value meta = json::parse(read_bytes(dir + "/meta.json"));
    const SafetensorsContents contents = read_safetensors(dir + "/tensors.safetensors");
    EXPECT_EQ(contents.metadata.at("format"), "pt");
    const TensorMap& t = contents.tensors;
    const int64_t batch = static_cast<int64_t>(*meta.find("batch")->as_uint64());
    const int64_t seq = static_cast<int64_t>(*meta.find("seq")->as_uint64());
    const torch::Tensor& input = t.at("input");
    if (meta.find("kind")->text == "lm_model") {
      EXPECT_EQ(input.scalar_type(), torch::kInt64);
      EXPECT_EQ(input.sizes(), (std::vector<int64_t>{batch, seq}));
      EXPECT_EQ(t.at("output").size(2), t.at("state.token_embedding.weight").size(0));
    } else {
      EXPECT_EQ(input.scalar_type(), torch::kFloat32);
      EXPECT_EQ(input.sizes().slice(0, 2), (std::vector<int64_t>{batch, seq}));
      EXPECT_EQ(t.at("output").sizes(), input.sizes());
    }
    // Each parameter has one gradient entry: their sizes add up to param_count.
    int64_t grad_numel = 0;
    for (const auto& [key, tensor] : t) {
      if (key.rfind("grad.", 0) != 0) continue;
      grad_numel += tensor.numel();
      EXPECT_EQ(tensor.sizes(), t.at("state." + key.substr(5)).sizes()) << key;
    }
    EXPECT_EQ(grad_numel, static_cast<int64_t>(*meta.find("param_count")->as_uint64()));
  }
}

}  // namespace
}  // namespace xlstm::io
