// sLSTM checkpoint layouts against the golden fixtures: `state_cuda_layout.*` holds the cuda-layout
// copies of the vanilla `state.*` sLSTM cell parameters.
#include <gtest/gtest.h>

#include "xlstm/blocks/slstm/checkpoint_layout.h"
#include "xlstm/config/yaml.h"
#include "xlstm/io/state_dict.h"
#include "xlstm/xlstm_lm_model.h"

namespace xlstm {
namespace {
using namespace io;

TensorMap fixture(const std::string& name) {
  return load_safetensors(std::string(XLSTM_TEST_DATA_DIR) + "/reference/" + name +
                          "/tensors.safetensors");
}

const char* const kCases[] = {"slstm_stack_small", "readme_stack", "lm_parity_xlstm11", "lm_tied"};

TEST(SlstmCheckpointLayout, FixturesConvertExactlyBothWays) {
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    const TensorMap t = fixture(name);
    const TensorMap vanilla = strip_prefix(t, "state.");
    const TensorMap cuda = strip_prefix(t, "state_cuda_layout.");
    ASSERT_FALSE(cuda.empty());
    for (const auto& [key, value] : cuda) {
      SCOPED_TRACE(key);
      const torch::Tensor& expected = vanilla.at(key);
      const bool kernel = value.dim() == 3;
      const int64_t num_heads =
          kernel ? value.size(0)
                 : vanilla.at(key.substr(0, key.size() - 6) + "_recurrent_kernel_").size(0);
      const torch::Tensor to_vanilla =
          kernel ? slstm_recurrent_kernel_cuda_to_vanilla(value, num_heads)
                 : slstm_bias_cuda_to_vanilla(value, num_heads);
      const torch::Tensor back = kernel
                                     ? slstm_recurrent_kernel_vanilla_to_cuda(expected, num_heads)
                                     : slstm_bias_vanilla_to_cuda(expected, num_heads);
      EXPECT_TRUE(torch::equal(to_vanilla, expected));
      EXPECT_TRUE(torch::equal(back, value));
    }
  }
}

TEST(SlstmCheckpointLayout, ConvertWholeMapsDetectingTheLayoutFromTheKernel) {
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    const TensorMap t = fixture(name);
    const TensorMap vanilla = strip_prefix(t, "state.");
    // The whole vanilla state with the sLSTM cells replaced by their cuda-layout copies.
    TensorMap mixed = vanilla;
    for (const auto& [key, value] : strip_prefix(t, "state_cuda_layout.")) mixed[key] = value;
    const TensorMap converted = convert_slstm_layout(mixed, SlstmLayout::vanilla);
    ASSERT_EQ(converted.size(), vanilla.size());
    for (const auto& [key, value] : vanilla)
      EXPECT_TRUE(torch::equal(converted.at(key), value)) << key;
    const TensorMap to_cuda = convert_slstm_layout(vanilla, SlstmLayout::cuda);
    for (const auto& [key, value] : mixed) EXPECT_TRUE(torch::equal(to_cuda.at(key), value)) << key;
    // Already in the target layout: unchanged.
    for (const auto& [key, value] : convert_slstm_layout(vanilla, SlstmLayout::vanilla))
      EXPECT_TRUE(value.is_same(vanilla.at(key))) << key;
  }
}

// A module tree holding zero tensors shaped like `like` under the same dotted names.
std::shared_ptr<torch::nn::Module> module_like(const TensorMap& like) {
  auto root = std::make_shared<torch::nn::Module>();
  for (const auto& [key, value] : like) {
    torch::nn::Module* m = root.get();
    size_t start = 0;
    for (size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', start)) {
      const std::string child = key.substr(start, dot - start);
      const auto children = m->named_children();
      m = children.contains(child)
              ? children[child].get()
              : m->register_module(child, std::make_shared<torch::nn::Module>()).get();
      start = dot + 1;
    }
    m->register_parameter(key.substr(start), torch::zeros_like(value));
  }
  return root;
}

// The fixture's model (an LM when its name says so), every parameter zeroed so a load shows.
std::shared_ptr<torch::nn::Module> zeroed_model(const std::string& name) {
  const std::string config =
      std::string(XLSTM_TEST_DATA_DIR) + "/reference/" + name + "/config.yaml";
  std::shared_ptr<torch::nn::Module> model =
      name.rfind("lm_", 0) == 0
          ? std::shared_ptr<torch::nn::Module>(
                xLSTMLMModel(from_yaml_file<xLSTMLMModelConfig>(config)).ptr())
          : xLSTMBlockStack(from_yaml_file<xLSTMBlockStackConfig>(config)).ptr();
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.zero_();
  return model;
}

TEST(SlstmCheckpointLayout, LoadStateDictAcceptsEitherBackendsCheckpoint) {
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    const TensorMap t = fixture(name);
    const TensorMap vanilla = strip_prefix(t, "state.");
    TensorMap cuda_checkpoint = vanilla;
    for (const auto& [key, value] : strip_prefix(t, "state_cuda_layout."))
      cuda_checkpoint[key] = value;

    for (const TensorMap* checkpoint :
         std::initializer_list<const TensorMap*>{&cuda_checkpoint, &vanilla}) {
      const auto model = zeroed_model(name);
      EXPECT_TRUE(load_state_dict(*model, *checkpoint).ok());
      for (const auto& [key, value] : state_dict(*model))
        EXPECT_TRUE(torch::equal(value, vanilla.at(key))) << key;
    }
  }
}

// The conversion belongs to the sLSTM cell, not to io: a plain module tree shaped like the vanilla
// parameters does not take the cuda-layout kernels.
TEST(SlstmCheckpointLayout, PlainModulesGetNoLayoutConversion) {
  const TensorMap t = fixture("slstm_stack_small");
  const TensorMap vanilla = strip_prefix(t, "state.");
  TensorMap cuda_checkpoint = vanilla;
  for (const auto& [key, value] : strip_prefix(t, "state_cuda_layout."))
    cuda_checkpoint[key] = value;
  const auto plain = module_like(vanilla);
  const LoadReport report = load_state_dict(*plain, cuda_checkpoint, /*strict=*/false);
  ASSERT_FALSE(report.mismatched.empty());
  for (const std::string& key : report.mismatched)
    EXPECT_NE(key.find("_recurrent_kernel_"), std::string::npos) << key;
}

TEST(SlstmCheckpointLayout, DetectsLayoutsAndRejectsOtherShapes) {
  EXPECT_EQ(slstm_layout_of(torch::zeros({2, 12, 3})), SlstmLayout::vanilla);
  EXPECT_EQ(slstm_layout_of(torch::zeros({2, 3, 12})), SlstmLayout::cuda);
  EXPECT_FALSE(slstm_layout_of(torch::zeros({2, 3, 3})).has_value());
  EXPECT_FALSE(slstm_layout_of(torch::zeros({24})).has_value());
  EXPECT_THROW(slstm_recurrent_kernel_cuda_to_vanilla(torch::zeros({2, 12, 3}), 2), c10::Error);
  EXPECT_THROW(slstm_recurrent_kernel_vanilla_to_cuda(torch::zeros({2, 12, 3}), 3), c10::Error);
  EXPECT_THROW(slstm_bias_cuda_to_vanilla(torch::zeros({10}), 2), c10::Error);
  EXPECT_THROW(
      convert_slstm_layout({{"c._recurrent_kernel_", torch::zeros({2, 3, 3})}}, SlstmLayout::cuda),
      c10::Error);
  EXPECT_THROW(convert_slstm_layout({{"c._recurrent_kernel_", torch::zeros({2, 12, 3})},
                                     {"c._bias_", torch::zeros({16})}},
                                    SlstmLayout::cuda),
               c10::Error);
  // A key that merely ends in the same letters is not a cell.
  const TensorMap other{{"my_recurrent_kernel_", torch::zeros({2, 12, 3})}};
  EXPECT_TRUE(convert_slstm_layout(other, SlstmLayout::cuda)
                  .at("my_recurrent_kernel_")
                  .is_same(other.at("my_recurrent_kernel_")));
}

// Analytic check of the bias orders on a tiny case: 2 heads, head_dim 1, gates (i, f, z, o).
TEST(SlstmCheckpointLayout, BiasOrderIsGateHeadVersusHeadGate) {
  // vanilla (gate, head): i0 i1 f0 f1 z0 z1 o0 o1;  cuda (head, gate): i0 f0 z0 o0 i1 f1 z1 o1.
  const torch::Tensor vanilla = torch::tensor({0, 1, 10, 11, 20, 21, 30, 31});
  const torch::Tensor cuda = torch::tensor({0, 10, 20, 30, 1, 11, 21, 31});
  EXPECT_TRUE(torch::equal(slstm_bias_vanilla_to_cuda(vanilla, 2), cuda));
  EXPECT_TRUE(torch::equal(slstm_bias_cuda_to_vanilla(cuda, 2), vanilla));
}

}  // namespace
}  // namespace xlstm
