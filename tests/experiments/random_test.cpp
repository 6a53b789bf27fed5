#include "xlstm/experiments/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

namespace xlstm {
namespace experiments {
namespace {

TEST(ExperimentsRandom, UniformIntCoversTheRangeEvenly) {
  Rng rng(1);
  std::map<int64_t, int> hits;
  const int trials = 60000;
  for (int i = 0; i < trials; ++i) ++hits[rng.uniform_int(-2, 3)];
  ASSERT_EQ(hits.size(), 6u);
  EXPECT_EQ(hits.begin()->first, -2);
  EXPECT_EQ(hits.rbegin()->first, 3);
  const double sigma = std::sqrt(trials * (1.0 / 6) * (5.0 / 6));
  for (const auto& [value, count] : hits) EXPECT_NEAR(count, trials / 6.0, 5 * sigma) << value;
  EXPECT_EQ(rng.uniform_int(7, 7), 7);
  EXPECT_THROW(rng.uniform_int(3, 2), std::invalid_argument);
}

TEST(ExperimentsRandom, SameSeedSameStream) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const int64_t x = a.uniform_int(0, 1000000);
    EXPECT_EQ(x, b.uniform_int(0, 1000000));
    differs |= x != c.uniform_int(0, 1000000);
  }
  EXPECT_TRUE(differs);
}

TEST(ExperimentsRandom, SampleWithoutReplacementIsDistinctAndUniform) {
  Rng rng(2);
  std::map<int64_t, int> first;
  for (int i = 0; i < 20000; ++i) {
    const auto s = rng.sample_without_replacement(10, 19, 10);  // a permutation of 10..19
    ASSERT_EQ(std::set<int64_t>(s.begin(), s.end()).size(), 10u);
    EXPECT_EQ(*std::min_element(s.begin(), s.end()), 10);
    EXPECT_EQ(*std::max_element(s.begin(), s.end()), 19);
    ++first[s[0]];
  }
  for (const auto& [value, count] : first) EXPECT_NEAR(count, 2000, 5 * std::sqrt(1800.0));
  EXPECT_THROW(rng.sample_without_replacement(1, 3, 4), std::invalid_argument);
}

// Ordered pairs from weights {1,2,3,4}: P(a then b) = w_a/10 * w_b/(10 - w_a), as successive
// weighted draws without replacement (numpy's choice(replace=False, p=...)).
TEST(ExperimentsRandom, WeightedSampleFollowsSuccessiveDraws) {
  Rng rng(3);
  const std::vector<double> w{1, 2, 3, 4};
  std::map<std::pair<int64_t, int64_t>, int> hits;
  const int trials = 60000;
  for (int i = 0; i < trials; ++i) {
    const auto s = rng.weighted_sample_without_replacement(w, 2);
    ++hits[{s[0], s[1]}];
  }
  for (int64_t a = 0; a < 4; ++a) {
    for (int64_t b = 0; b < 4; ++b) {
      if (a == b) continue;
      const double p = w[a] / 10 * w[b] / (10 - w[a]);
      const double frequency = hits[std::make_pair(a, b)] / double(trials);
      EXPECT_NEAR(frequency, p, 5 * std::sqrt(p * (1 - p) / trials)) << a << "," << b;
    }
  }
}

// mix_seed(x) is SplitMix64's output for state x: its published sequence from state 0 (Vigna's
// splitmix64.c; the state advances by the golden gamma 0x9E3779B97F4A7C15 per output).
TEST(ExperimentsRandom, MixSeedIsSplitMix64) {
  EXPECT_EQ(mix_seed(0), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(mix_seed(0x9E3779B97F4A7C15ULL), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(mix_seed(2 * 0x9E3779B97F4A7C15ULL), 0x06C45D188009454FULL);
}

// The seeds of splits and examples are the documented mixes: FNV-1a of the split name, SplitMix64.
TEST(ExperimentsRandom, DerivedSeedsFollowTheirDefinition) {
  uint64_t fnv = 0xCBF29CE484222325ULL;
  for (const char c : std::string("validation")) fnv = (fnv ^ uint8_t(c)) * 0x100000001B3ULL;
  EXPECT_EQ(derive_split_seed(5, "validation"), mix_seed(mix_seed(5) ^ fnv));
  EXPECT_EQ(derive_example_seed(5, 9), mix_seed(mix_seed(5) ^ mix_seed(9 ^ 0x6A09E667F3BCC908ULL)));
}

TEST(ExperimentsRandom, DerivedSeedsDiffer) {
  EXPECT_NE(derive_split_seed(1, "train"), derive_split_seed(1, "validation"));
  EXPECT_NE(derive_split_seed(1, "train"), derive_split_seed(2, "train"));
  EXPECT_NE(derive_example_seed(1, 0), derive_example_seed(1, 1));
  EXPECT_NE(derive_example_seed(1, 1), derive_example_seed(2, 0));
}

}  // namespace
}  // namespace experiments
}  // namespace xlstm
