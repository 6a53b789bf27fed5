#include "xlstm/components/dtype.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "xlstm/components/choice.h"

namespace xlstm {
namespace {

TEST(Dtype, NamesBothWays) {
  EXPECT_EQ(dtype_names(), (std::vector<std::string>{"float32", "bfloat16", "float16"}));
  const torch::ScalarType dtypes[] = {torch::kFloat32, torch::kBFloat16, torch::kFloat16};
  const char* short_names[] = {"f32", "bf16", "f16"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(dtype_from_name(dtype_names()[i]), dtypes[i]);
    EXPECT_EQ(dtype_from_name(short_names[i]), dtypes[i]);
    EXPECT_EQ(dtype_name(dtypes[i]), dtype_names()[i]);
  }
  EXPECT_THROW(dtype_from_name("float64"), std::invalid_argument);
  EXPECT_THROW(dtype_name(torch::kFloat64), std::invalid_argument);
}

TEST(Dtype, ComputeDtypeWidensOnlyCpuHalf) {
  EXPECT_EQ(compute_dtype(torch::zeros({1}, torch::kHalf)), torch::kFloat32);
  EXPECT_EQ(compute_dtype(torch::zeros({1}, torch::kBFloat16)), torch::kBFloat16);
  EXPECT_EQ(compute_dtype(torch::zeros({1}, torch::kFloat64)), torch::kFloat64);
}

TEST(Choice, NameToEnumOnce) {
  enum class Shape { kWide, kTall };
  const Choices<Shape> shapes = {{"wide", Shape::kWide}, {"tall", Shape::kTall}};
  EXPECT_EQ(choose("shape", "tall", shapes), Shape::kTall);
  try {
    choose("shape", "round", shapes);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "shape: unknown name \"round\" (choices: wide, tall)");
  }
}

}  // namespace
}  // namespace xlstm
