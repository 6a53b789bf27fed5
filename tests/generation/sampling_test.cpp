// Token sampling: the filters never emit an excluded token and the kept ones come with the
// renormalised probabilities (fixed-seed frequencies over many draws), greedy, seeds, the
// repetition penalty, option checks.
#include "xlstm/generation/sampling.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

namespace xlstm::generation {
namespace {

// Ten tokens in shuffled order: by probability 1, 5, 3, 7, 4, 0, 9, 6, 8, 2.
const std::vector<double> kProbs = {0.07, 0.30, 0.005, 0.15, 0.08, 0.20, 0.03, 0.10, 0.015, 0.05};
constexpr int64_t kDraws = 40000;

/// Frequency of each token over kDraws draws (one batch of kDraws identical rows).
std::vector<double> frequencies(const SamplingOptions& options, uint64_t seed) {
  TokenSampler sampler(options, torch::kCPU, seed, 10, std::vector<std::vector<int64_t>>(kDraws));
  const auto logits = torch::tensor(kProbs).log().to(torch::kFloat32).expand({kDraws, 10});
  const auto counts = torch::bincount(sampler.next(logits), {}, 10).to(torch::kDouble) / kDraws;
  return {counts.data_ptr<double>(), counts.data_ptr<double>() + 10};
}

/// p^(1/temperature) over `kept`, renormalised; 0 elsewhere.
std::vector<double> expected(const std::set<int>& kept, double temperature = 1.0) {
  std::vector<double> q(kProbs.size(), 0.0);
  double total = 0.0;
  for (const int i : kept) total += q[i] = std::pow(kProbs[i], 1.0 / temperature);
  for (auto& value : q) value /= total;
  return q;
}

void expect_distribution(const SamplingOptions& options, const std::vector<double>& want) {
  const auto got = frequencies(options, 1234);
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0.0) {
      EXPECT_EQ(got[i], 0.0) << "excluded token " << i << " was emitted";
    } else {
      const double sigma = std::sqrt(want[i] * (1 - want[i]) / kDraws);
      EXPECT_NEAR(got[i], want[i], 5 * sigma) << "token " << i;
    }
  }
}

SamplingOptions with(double temperature, int64_t top_k, double top_p, double min_p) {
  SamplingOptions options;
  options.temperature = temperature;
  options.top_k = top_k;
  options.top_p = top_p;
  options.min_p = min_p;
  return options;
}

TEST(Sampling, UnfilteredDrawsFollowTheDistribution) {
  expect_distribution(with(1.0, 0, 1.0, 0.0), kProbs);
  expect_distribution(with(2.0, 0, 1.0, 0.0), expected({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 2.0));
}

TEST(Sampling, TopKKeepsTheKMostLikely) {
  expect_distribution(with(1.0, 3, 1.0, 0.0), expected({1, 5, 3}));
  expect_distribution(with(1.0, 1, 1.0, 0.0), expected({1}));
  expect_distribution(with(2.0, 4, 1.0, 0.0), expected({1, 5, 3, 7}, 2.0));
}

TEST(Sampling, TopPKeepsTheSmallestSetReachingP) {
  // Cumulative 0.30, 0.50, 0.65, 0.75: the fourth token reaches 0.7.
  expect_distribution(with(1.0, 0, 0.7, 0.0), expected({1, 5, 3, 7}));
  expect_distribution(with(1.0, 0, 0.2, 0.0), expected({1}));
  // After top-k 2 the kept pair has 0.6 and 0.4: top-p 0.55 keeps one.
  expect_distribution(with(1.0, 2, 0.55, 0.0), expected({1}));
}

TEST(Sampling, MinPDropsTokensBelowAFractionOfTheTop) {
  // 0.25 * 0.30 = 0.075: 0.08 stays, 0.07 goes.
  expect_distribution(with(1.0, 0, 1.0, 0.25), expected({1, 5, 3, 7, 4}));
  // After temperature 0.5 (p^2: 0.09, 0.04, 0.0225, 0.01): 0.2 * 0.09 = 0.018 keeps three.
  expect_distribution(with(0.5, 0, 1.0, 0.2), expected({1, 5, 3}, 0.5));
}

TEST(Sampling, FilterLogitsMarksExcludedTokensMinusInfinity) {
  const auto logits = torch::tensor(kProbs).log().to(torch::kFloat32).unsqueeze(0);
  const auto filtered = filter_logits(logits, with(1.0, 0, 0.7, 0.0))[0];
  for (int i = 0; i < 10; ++i) {
    const bool kept = i == 1 || i == 5 || i == 3 || i == 7;
    EXPECT_EQ(std::isinf(filtered[i].item<float>()), !kept) << "token " << i;
  }
}

TEST(Sampling, GreedyTakesTheArgmaxWhateverTheSeed) {
  const auto logits = torch::tensor(kProbs).log().to(torch::kFloat32).expand({50, 10});
  TokenSampler sampler(with(0.0, 0, 1.0, 0.0), torch::kCPU, 99, 10,
                       std::vector<std::vector<int64_t>>(50));
  EXPECT_TRUE(torch::equal(sampler.next(logits), torch::full({50}, 1, torch::kLong)));
}

TEST(Sampling, SameSeedSameTokens) {
  const auto logits = torch::randn({64, 300});
  const std::vector<std::vector<int64_t>> rows(64);
  auto draw = [&](uint64_t seed) {
    TokenSampler sampler(with(1.0, 40, 0.9, 0.0), torch::kCPU, seed, 300, rows);
    return torch::stack({sampler.next(logits), sampler.next(logits), sampler.next(logits)});
  };
  EXPECT_TRUE(torch::equal(draw(5), draw(5)));
  EXPECT_FALSE(torch::equal(draw(5), draw(6)));
}

TEST(Sampling, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  const auto logits = torch::tensor({{2.0f, -1.0f, 0.5f, -3.0f}});
  const auto seen = torch::tensor({{true, true, false, false}});
  EXPECT_TRUE(torch::allclose(penalize_repetitions(logits, seen, 2.0),
                              torch::tensor({{1.0f, -2.0f, 0.5f, -3.0f}})));
  // Greedy with a penalty: the prompt's token 0 loses to 1, then 1 (now seen too) to 0 again.
  SamplingOptions options = with(0.0, 0, 1.0, 0.0);
  options.repetition_penalty = 2.0;
  TokenSampler sampler(options, torch::kCPU, 0, 3, {{0}});
  const auto three = torch::tensor({{3.0f, 2.0f, 1.0f}});
  EXPECT_EQ(sampler.next(three).item<int64_t>(), 1);
  EXPECT_EQ(sampler.next(three).item<int64_t>(), 0);
  EXPECT_THROW(TokenSampler(options, torch::kCPU, 0, 3, {{7}}), c10::Error);
}

TEST(Sampling, ValidateNamesTheBadOption) {
  const std::vector<std::pair<SamplingOptions, std::string>> bad = {
      {with(-1.0, 0, 1.0, 0.0), "temperature"},
      {with(1.0, -2, 1.0, 0.0), "top_k"},
      {with(1.0, 0, 0.0, 0.0), "top_p"},
      {with(1.0, 0, 1.0, 1.5), "min_p"}};
  for (const auto& [options, name] : bad) {
    try {
      options.validate();
      ADD_FAILURE() << name << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace xlstm::generation
