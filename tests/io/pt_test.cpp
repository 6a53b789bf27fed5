// Loading a state_dict written by Python's torch.save (tests/data/io/make_pt_fixture.py).
#include <gtest/gtest.h>

#include "io/temp_dir.h"
#include "xlstm/io/state_dict.h"

namespace xlstm::io {
namespace {

using testing::TempDir;

const std::string kFixture = std::string(XLSTM_TEST_DATA_DIR) + "/io/tiny_state_dict.pt";

// A head whose weight is the embedding's (tied).
struct TiedHeadImpl : torch::nn::Module {
  explicit TiedHeadImpl(torch::Tensor w) { weight = register_parameter("weight", w); }
  torch::Tensor weight;
};
TORCH_MODULE(TiedHead);

// The C++ twin of the Python `Tiny` module.
struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    proj = register_module("proj", torch::nn::Linear(3, 2));
    inner = register_module(
        "inner",
        torch::nn::Sequential(torch::nn::Linear(torch::nn::LinearOptions(2, 2).bias(false))));
    steps = register_buffer("steps", torch::zeros({1}, torch::kInt64));
    token_embedding = register_module("token_embedding", torch::nn::Embedding(3, 2));
    lm_head = register_module("lm_head", TiedHead(token_embedding->weight));
  }
  torch::nn::Embedding token_embedding{nullptr};
  TiedHead lm_head{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::Sequential inner{nullptr};
  torch::Tensor steps;
};
TORCH_MODULE(Tiny);

TEST(IoPt, ReadsPythonStateDict) {
  const TensorMap t = load_pt(kFixture);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_TRUE(
      torch::equal(t.at("proj.weight"), torch::arange(6, torch::kFloat32).reshape({2, 3}) * 0.5));
  EXPECT_TRUE(torch::equal(t.at("proj.bias"), torch::tensor({-1.f, 2.f})));
  EXPECT_TRUE(torch::equal(t.at("inner.0.weight"),
                           torch::arange(4, torch::kFloat32).reshape({2, 2}) - 1.5));
  EXPECT_TRUE(torch::equal(t.at("steps"), torch::tensor({int64_t{7}})));
  const torch::Tensor embedding = torch::arange(6, torch::kFloat32).reshape({3, 2}) * -2.0;
  EXPECT_TRUE(torch::equal(t.at("token_embedding.weight"), embedding));
  // The tied pair was one storage in the file, and is one here.
  EXPECT_EQ(t.at("lm_head.weight").data_ptr(), t.at("token_embedding.weight").data_ptr());
}

TEST(IoPt, LoadWeightsIntoTheCppTwin) {
  Tiny tiny;
  EXPECT_TRUE(load_weights(kFixture, *tiny).ok());
  EXPECT_EQ(tiny->steps.item<int64_t>(), 7);
  // y = x W^T + b with W = [[0, .5, 1], [1.5, 2, 2.5]], b = [-1, 2], x = [1, 1, 1].
  const torch::Tensor y = tiny->proj(torch::ones({1, 3}));
  EXPECT_TRUE(torch::equal(y, torch::tensor({{0.5f, 8.0f}})));
  EXPECT_TRUE(torch::equal(tiny->lm_head->weight,
                           torch::arange(6, torch::kFloat32).reshape({3, 2}) * -2.0));
}

TEST(IoPt, RoundTripsAndRejectsOtherContents) {
  TempDir dir;
  const TensorMap tensors{{"a", torch::arange(5, torch::kInt32)},
                          {"b.c", torch::randn({2, 3}).t()}};
  save_pt(dir.file("x.pt"), tensors);
  const TensorMap loaded = load_pt(dir.file("x.pt"));
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_TRUE(torch::equal(loaded.at("a"), tensors.at("a")));
  EXPECT_TRUE(torch::equal(loaded.at("b.c"), tensors.at("b.c")));

  const std::vector<char> list = torch::pickle_save(torch::IValue(std::vector<int64_t>{1, 2}));
  testing::write_bytes(dir.file("list.pt"), std::string(list.begin(), list.end()));
  EXPECT_THROW(load_pt(dir.file("list.pt")), std::runtime_error);
  testing::write_bytes(dir.file("junk.pt"), "not a zip file");
  try {
    load_pt(dir.file("junk.pt"));
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.pt"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_pt(dir.file("absent.pt")), std::runtime_error);
}

}  // namespace
}  // namespace xlstm::io
