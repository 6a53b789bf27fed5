#include <gtest/gtest.h>

#include "io/temp_dir.h"
#include "xlstm/io/state_dict.h"

namespace xlstm::io {
namespace {

using testing::TempDir;

struct InnerImpl : torch::nn::Module {
  InnerImpl() {
    lin = register_module("lin", torch::nn::Linear(3, 4));
    running = register_buffer("running", torch::zeros({4}));
  }
  torch::nn::Linear lin{nullptr};
  torch::Tensor running;
};
TORCH_MODULE(Inner);

// A head whose weight is a parameter given from outside (to tie it to an embedding).
struct HeadImpl : torch::nn::Module {
  explicit HeadImpl(torch::Tensor w) { weight = register_parameter("weight", w); }
  torch::Tensor weight;
};
TORCH_MODULE(Head);

// token_embedding.weight, blocks.{0,1}.{lin.weight,lin.bias,running}, lm_head.weight, steps.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(bool tie) {
    token_embedding = register_module("token_embedding", torch::nn::Embedding(5, 4));
    blocks = register_module("blocks", torch::nn::ModuleList(Inner(), Inner()));
    lm_head = register_module(
        "lm_head", Head(tie ? token_embedding->weight : torch::randn({5, 4}).requires_grad_()));
    steps = register_buffer("steps", torch::zeros({1}, torch::kInt64));
  }
  torch::nn::Embedding token_embedding{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  Head lm_head{nullptr};
  torch::Tensor steps;
};
TORCH_MODULE(Net);

std::vector<std::string> keys_of(const TensorMap& m) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : m) keys.push_back(key);
  return keys;
}

// A checkpoint with distinct values: `offset + arange` in each entry's shape and dtype.
TensorMap distinct_values(const TensorMap& like, double offset) {
  TensorMap out;
  for (const auto& [key, t] : like)
    out[key] =
        (torch::arange(t.numel(), torch::kFloat64).reshape(t.sizes()) + offset).to(t.scalar_type());
  return out;
}

void expect_module_holds(const torch::nn::Module& m, const TensorMap& expected) {
  for (const auto& [key, value] : state_dict(m)) {
    ASSERT_TRUE(expected.count(key)) << key;
    EXPECT_TRUE(torch::equal(value, expected.at(key))) << key;
  }
}

TEST(IoStateDict, HoldsDottedNamesOfParametersAndBuffersSharingStorage) {
  Net net(/*tie=*/false);
  const TensorMap sd = state_dict(*net);
  EXPECT_EQ(keys_of(sd), (std::vector<std::string>{
                             "blocks.0.lin.bias", "blocks.0.lin.weight", "blocks.0.running",
                             "blocks.1.lin.bias", "blocks.1.lin.weight", "blocks.1.running",
                             "lm_head.weight", "steps", "token_embedding.weight"}));
  EXPECT_EQ(sd.at("blocks.1.lin.weight").data_ptr(),
            net->blocks[1]->as<Inner>()->lin->weight.data_ptr());
  EXPECT_FALSE(sd.at("token_embedding.weight").requires_grad());
}

TEST(IoStateDict, TiedParameterAppearsUnderBothNames) {
  Net net(/*tie=*/true);
  const TensorMap sd = state_dict(*net);
  EXPECT_EQ(sd.at("lm_head.weight").data_ptr(), sd.at("token_embedding.weight").data_ptr());
}

TEST(IoStateDict, LoadsInPlaceWithoutGradHistory) {
  Net net(/*tie=*/false);
  const torch::Tensor before = net->token_embedding->weight;
  const TensorMap ckpt = distinct_values(state_dict(*net), 1.0);
  const LoadReport report = load_state_dict(*net, ckpt);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.summary(), "ok");
  expect_module_holds(*net, ckpt);
  EXPECT_TRUE(net->token_embedding->weight.is_same(before));
  EXPECT_TRUE(net->token_embedding->weight.requires_grad());
  EXPECT_TRUE(net->token_embedding->weight.is_leaf());
}

TEST(IoStateDict, StrictErrorListsEveryOffendingNameAndChangesNothing) {
  Net net(/*tie=*/false);
  const TensorMap original = distinct_values(state_dict(*net), 0.0);
  load_state_dict(*net, original);
  TensorMap ckpt = distinct_values(state_dict(*net), 100.0);
  ckpt.erase("blocks.0.running");
  ckpt.erase("lm_head.weight");
  ckpt["extra.weight"] = torch::zeros({2});
  ckpt["blocks.9.lin.bias"] = torch::zeros({4});
  ckpt["blocks.1.lin.weight"] = torch::zeros({3, 4});  // transposed shape
  ckpt["steps"] = torch::zeros({1}, torch::kFloat32);  // float into int64
  try {
    load_state_dict(*net, ckpt);
    FAIL() << "no error";
  } catch (const StateDictError& e) {
    const LoadReport& r = e.report();
    // Module order: parameters before buffers.
    EXPECT_EQ(r.missing, (std::vector<std::string>{"lm_head.weight", "blocks.0.running"}));
    EXPECT_EQ(r.unexpected, (std::vector<std::string>{"blocks.9.lin.bias", "extra.weight"}));
    EXPECT_EQ(r.mismatched, (std::vector<std::string>{"blocks.1.lin.weight", "steps"}));
    const std::string what = e.what();
    for (const char* needle :
         {"missing 'blocks.0.running': expected [4] Float", "missing 'lm_head.weight'",
          "unexpected 'extra.weight': found [2] Float", "unexpected 'blocks.9.lin.bias'",
          "mismatched 'blocks.1.lin.weight': expected [4, 3] Float, found [3, 4] Float",
          "mismatched 'steps': expected [1] Long, found [1] Float"})
      EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
  }
  expect_module_holds(*net, original);
}

TEST(IoStateDict, NonStrictLoadsWhatFitsAndReports) {
  Net net(/*tie=*/false);
  const TensorMap original = distinct_values(state_dict(*net), 0.0);
  load_state_dict(*net, original);
  TensorMap ckpt = distinct_values(state_dict(*net), 100.0);
  ckpt.erase("blocks.0.running");
  ckpt["blocks.1.lin.weight"] = torch::zeros({3, 4});
  ckpt["extra"] = torch::zeros({1});
  const LoadReport r = load_state_dict(*net, ckpt, /*strict=*/false);
  EXPECT_EQ(r.missing, std::vector<std::string>{"blocks.0.running"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"extra"});
  EXPECT_EQ(r.mismatched, std::vector<std::string>{"blocks.1.lin.weight"});
  EXPECT_FALSE(r.ok());
  const TensorMap now = state_dict(*net);
  EXPECT_TRUE(torch::equal(now.at("blocks.0.running"), original.at("blocks.0.running")));
  EXPECT_TRUE(torch::equal(now.at("blocks.1.lin.weight"), original.at("blocks.1.lin.weight")));
  EXPECT_TRUE(torch::equal(now.at("blocks.1.lin.bias"), ckpt.at("blocks.1.lin.bias")));
  EXPECT_TRUE(torch::equal(now.at("token_embedding.weight"), ckpt.at("token_embedding.weight")));
}

TEST(IoStateDict, ConvertsBetweenFloatingDtypesOnly) {
  Net net(/*tie=*/false);
  TensorMap ckpt = distinct_values(state_dict(*net), 0.5);
  ckpt["token_embedding.weight"] = ckpt.at("token_embedding.weight").to(torch::kFloat64);
  ckpt["blocks.0.lin.bias"] = ckpt.at("blocks.0.lin.bias").to(torch::kBFloat16);
  EXPECT_TRUE(load_state_dict(*net, ckpt).ok());
  EXPECT_EQ(net->token_embedding->weight.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(net->token_embedding->weight,
                           ckpt.at("token_embedding.weight").to(torch::kFloat32)));
  ckpt["blocks.0.lin.bias"] = torch::ones({4}, torch::kInt32);
  const LoadReport r = load_state_dict(*net, ckpt, /*strict=*/false);
  EXPECT_EQ(r.mismatched, std::vector<std::string>{"blocks.0.lin.bias"});
}

TEST(IoStateDict, TiedWeightsFromEitherOrBothNames) {
  Net net(/*tie=*/true);
  TensorMap both = distinct_values(state_dict(*net), 3.0);
  ASSERT_TRUE(torch::equal(both.at("lm_head.weight"), both.at("token_embedding.weight")));
  EXPECT_TRUE(load_state_dict(*net, both).ok());
  expect_module_holds(*net, both);

  TensorMap only_head = distinct_values(state_dict(*net), 7.0);
  only_head.erase("token_embedding.weight");
  EXPECT_TRUE(load_state_dict(*net, only_head).ok());
  EXPECT_TRUE(torch::equal(net->token_embedding->weight, only_head.at("lm_head.weight")));

  TensorMap differ = both;
  differ["lm_head.weight"] = differ.at("lm_head.weight") + 1;
  try {
    load_state_dict(*net, differ);
    FAIL() << "no error";
  } catch (const StateDictError& e) {
    EXPECT_EQ(e.report().mismatched, std::vector<std::string>{"lm_head.weight"});
    EXPECT_NE(std::string(e.what()).find("tied with 'token_embedding.weight'"), std::string::npos)
        << e.what();
  }
}

TEST(IoStateDict, UntiedModuleLoadsBothNamesSeparately) {
  Net net(/*tie=*/false);
  const TensorMap ckpt = distinct_values(state_dict(*net), 2.0);
  EXPECT_TRUE(load_state_dict(*net, ckpt).ok());
  expect_module_holds(*net, ckpt);
}

TEST(IoStateDict, WeightsFilesRoundTripByExtension) {
  TempDir dir;
  for (const char* name : {"w.safetensors", "w.pt", "w.pth"}) {
    SCOPED_TRACE(name);
    Net source(/*tie=*/true);
    load_state_dict(*source, distinct_values(state_dict(*source), 0.25));
    save_weights(dir.file(name), *source);
    Net target(/*tie=*/true);
    EXPECT_TRUE(load_weights(dir.file(name), *target).ok());
    expect_module_holds(*target, state_dict(*source));
  }
  Net net(/*tie=*/false);
  EXPECT_THROW(save_weights(dir.file("w.bin"), *net), std::runtime_error);
  EXPECT_THROW(load_weights(dir.file("w.bin"), *net), std::runtime_error);
  EXPECT_THROW(save_weights(dir.file("m.pt"), *net, {{"k", "v"}}), std::runtime_error);
  save_weights(dir.file("m.safetensors"), *net, {{"k", "v"}});
  EXPECT_EQ(read_safetensors(dir.file("m.safetensors")).metadata.at("k"), "v");
}

}  // namespace
}  // namespace xlstm::io
