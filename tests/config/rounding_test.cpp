// Rounding edge cases of the derived sizes (Python: UpProjConfigMixin._set_proj_up_dim and
// LinearHeadwiseExpandConfig.__post_init__), loaded through YAML.
#include <gtest/gtest.h>

#include "xlstm/config/yaml.h"

namespace xlstm {
namespace {

struct ProjCase {
  const char* yaml;
  int proj_up_dim;
};

class ProjUpDim : public ::testing::TestWithParam<ProjCase> {};

TEST_P(ProjUpDim, RoundsToTheMultiple) {
  EXPECT_EQ(from_yaml_string<FeedForwardConfig>(GetParam().yaml)._proj_up_dim,
            GetParam().proj_up_dim);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ProjUpDim,
    ::testing::Values(
        ProjCase{"proj_factor: 2.0\nembedding_dim: 64\n", 128},  // exactly a multiple: no rounding
        ProjCase{"proj_factor: 2.0\nembedding_dim: 64\nround_proj_up_dim_up: false\n", 128},
        ProjCase{"proj_factor: 1.3\nembedding_dim: 128\n", 192},  // ceil(2.6) * 64
        ProjCase{"proj_factor: 1.3\nembedding_dim: 128\nround_proj_up_dim_up: false\n", 128},
        ProjCase{"proj_factor: 1.3\nembedding_dim: 128\nround_proj_up_to_multiple_of: 32\n", 192},
        ProjCase{"proj_factor: 1.3\nembedding_dim: 128\nround_proj_up_to_multiple_of: 32\n"
                 "round_proj_up_dim_up: false\n",
                 160},  // floor(5.2) * 32
        ProjCase{"proj_factor: 1.5\nembedding_dim: 100\nround_proj_up_to_multiple_of: 1\n", 150},
        ProjCase{"proj_factor: 1.3\nembedding_dim: 32\n", 64},  // ceil(0.65) * 64
        ProjCase{"proj_factor: 1.3\nembedding_dim: 32\nround_proj_up_dim_up: false\n", 0}));

TEST(ProjUpDim, MlstmInnerDimFollowsTheRounding) {
  const auto cfg = from_yaml_string<mLSTMLayerConfig>(
      "embedding_dim: 48\nproj_factor: 2\nround_proj_up_to_multiple_of: 16\nnum_heads: 2\n");
  EXPECT_EQ(cfg._inner_embedding_dim, 96);
  const auto ceil64 = from_yaml_string<mLSTMLayerConfig>("embedding_dim: 48\n");
  EXPECT_EQ(ceil64._inner_embedding_dim, 128);  // ceil(96 / 64) * 64
}

struct OutFeaturesCase {
  int in_features;
  double expand_factor_up;
  int out_features;
};

class OutFeatures : public ::testing::TestWithParam<OutFeaturesCase> {};

TEST_P(OutFeatures, RoundHalfToEvenLikePython) {
  const auto& c = GetParam();
  const auto cfg = from_yaml_string<LinearHeadwiseExpandConfig>(
      "in_features: " + std::to_string(c.in_features) +
      "\nnum_heads: 1\nexpand_factor_up: " + std::to_string(c.expand_factor_up) + "\n");
  EXPECT_EQ(cfg._out_features, c.out_features);
}

INSTANTIATE_TEST_SUITE_P(Cases, OutFeatures,
                         ::testing::Values(OutFeaturesCase{5, 0.5, 2},  // round(2.5) == 2
                                           OutFeaturesCase{7, 0.5, 4},  // round(3.5) == 4
                                           OutFeaturesCase{9, 0.5, 4},  // round(4.5) == 4
                                           OutFeaturesCase{5, 1.5, 8},  // round(7.5) == 8
                                           OutFeaturesCase{4, 2.0, 8}));

TEST(OutFeatures, AnExplicitValueIsKept) {
  const auto cfg = from_yaml_string<LinearHeadwiseExpandConfig>(
      "in_features: 8\nnum_heads: 2\nexpand_factor_up: 3\n_out_features: 6\n");
  EXPECT_EQ(cfg._out_features, 6);
}

}  // namespace
}  // namespace xlstm
