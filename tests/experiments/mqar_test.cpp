#include "xlstm/experiments/mqar.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "xlstm/config/error.h"

namespace xlstm {
namespace experiments {
namespace {

MqarConfig small_options(bool random_non_queries, uint64_t seed = 3) {
  MqarConfig o;
  o.vocab_size = 256;
  o.input_seq_len = 64;
  o.num_kv_pairs = 4;
  o.random_non_queries = random_non_queries;
  o.seed = seed;
  return o;
}

// Checks the rules on one batch row; returns the number of query positions.
void expect_row_layout(const MqarConfig& o, const torch::Tensor& inputs_row,
                       const torch::Tensor& targets_row) {
  const int64_t n = o.num_kv_pairs, half = o.vocab_size / 2;
  const auto in = inputs_row.contiguous(), out = targets_row.contiguous();
  const int64_t* x = in.data_ptr<int64_t>();
  const int64_t* y = out.data_ptr<int64_t>();
  std::map<int64_t, int64_t> value_of;  // read back from the key-value prefix
  std::set<int64_t> values;
  for (int64_t j = 0; j < n; ++j) {
    ASSERT_TRUE(x[2 * j] >= 1 && x[2 * j] < half) << "key at " << 2 * j;
    ASSERT_TRUE(x[2 * j + 1] >= half && x[2 * j + 1] < o.vocab_size) << "value at " << 2 * j + 1;
    ASSERT_TRUE(value_of.emplace(x[2 * j], x[2 * j + 1]).second) << "repeated key";
    ASSERT_TRUE(values.insert(x[2 * j + 1]).second) << "repeated value";
    EXPECT_EQ(y[2 * j], kIgnoreIndex);
    EXPECT_EQ(y[2 * j + 1], kIgnoreIndex);
  }
  std::set<int64_t> queried;
  for (int64_t p = 2 * n; p < o.input_seq_len; ++p) {
    if (y[p] == kIgnoreIndex) {
      if (!o.random_non_queries) EXPECT_EQ(x[p], 0) << "filler at " << p;
      EXPECT_TRUE(x[p] >= 0 && x[p] < o.vocab_size);
      continue;
    }
    EXPECT_EQ((p - 2 * n) % 2, 0) << "query at odd offset " << p;
    ASSERT_EQ(value_of.count(x[p]), 1u) << "query token " << x[p] << " at " << p << " is no key";
    EXPECT_EQ(y[p], value_of[x[p]]) << "target at " << p;
    EXPECT_TRUE(queried.insert(x[p]).second) << "key queried twice";
  }
  EXPECT_EQ(static_cast<int64_t>(queried.size()), n);  // every key queried exactly once
}

TEST(Mqar, LayoutRules) {
  for (const bool random_non_queries : {false, true}) {
    const auto o = small_options(random_non_queries);
    const Batch batch = MqarGenerator(o).batch(0, 64);
    ASSERT_EQ(batch.inputs.sizes(), (std::vector<int64_t>{64, 64}));
    ASSERT_EQ(batch.targets.sizes(), (std::vector<int64_t>{64, 64}));
    for (int64_t b = 0; b < 64; ++b) expect_row_layout(o, batch.inputs[b], batch.targets[b]);
    // The fillers are random tokens, not the pad: only ~1/vocab of them stay 0.
    const double zeros = batch.inputs.eq(0).sum().item<double>() / batch.inputs.numel();
    if (random_non_queries)
      EXPECT_LT(zeros, 0.05);
    else
      EXPECT_GT(zeros, 0.5);
  }
}

TEST(Mqar, ExampleRecordsItsPlacement) {
  const auto o = small_options(false);
  const auto ex = MqarGenerator(o).example(9);
  ASSERT_EQ(ex.gaps.size(), 4u);
  for (int64_t j = 0; j < 4; ++j) {
    const int64_t q = 2 * 4 + 2 * ex.gaps[j];
    EXPECT_EQ(ex.inputs[q], ex.keys[j]);
    EXPECT_EQ(ex.targets[q], ex.values[j]);
  }
}

TEST(Mqar, ZoologySplitsAreValidAndShaped) {
  const auto train = mqar_train_splits(8192, 0);
  const auto validation = mqar_validation_splits(8192, 0);
  ASSERT_EQ(train.size(), 5u);
  ASSERT_EQ(validation.size(), 7u);
  EXPECT_EQ(train[4].name(), "L256_kv64");
  EXPECT_EQ(validation[6].name(), "L1024_kv256");
  EXPECT_NE(train[0].seed, validation[0].seed);  // same shape, different data
  const Batch batch = MqarGenerator(validation[6]).batch(0, 2);
  EXPECT_EQ(batch.inputs.size(1), 1024);
  EXPECT_EQ(batch.targets.ne(kIgnoreIndex).sum(1).eq(256).all().item<bool>(), true);
  expect_row_layout(validation[6], batch.inputs[0], batch.targets[0]);
}

TEST(Mqar, DeterministicPerSeed) {
  const auto o = small_options(true, 5);
  const auto a = build_mqar_validation_set(o, 20, 8);
  const auto b = build_mqar_validation_set(o, 20, 8);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].size(), 4);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].inputs.equal(b[i].inputs));
  const Batch other = MqarGenerator(small_options(true, 6)).batch(0, 8);
  EXPECT_FALSE(a[0].inputs.equal(other.inputs));
  MqarGenerator stream(o);
  stream.next_batch(8);
  EXPECT_TRUE(stream.next_batch(8).targets.equal(a[1].targets));
}

// With one pair the gap is a single draw from the power law p_g ~ (g+1)^(power_a-1).
TEST(Mqar, PowerLawPlacement) {
  for (const double power_a : {0.01, 1.0}) {
    MqarConfig o = small_options(false, 8);
    o.num_kv_pairs = 1;
    o.power_a = power_a;
    const int64_t space = o.query_space();
    ASSERT_EQ(space, 31);
    std::vector<double> p(space);
    double sum = 0.0;
    for (int64_t g = 0; g < space; ++g) sum += p[g] = power_a * std::pow(g + 1.0, power_a - 1.0);
    const int trials = 20000;
    std::vector<int> hits(space, 0);
    MqarGenerator generator(o);
    for (int i = 0; i < trials; ++i) ++hits[generator.example(i).gaps[0]];
    for (const int64_t g : {0, 1, 5, 30}) {
      const double expected = p[g] / sum;
      const double sigma = std::sqrt(expected * (1 - expected) / trials);
      EXPECT_NEAR(hits[g] / double(trials), expected, 5 * sigma)
          << "power_a " << power_a << " gap " << g;
    }
  }
}

TEST(Mqar, InvalidOptionsNameTheField) {
  auto o = small_options(true);
  o.input_seq_len = 63;
  EXPECT_THROW(o.validate(), ConfigError);
  o = small_options(true);
  o.num_kv_pairs = 17;  // 4 * 17 > 64
  EXPECT_THROW(MqarGenerator{o}, ConfigError);
  o = small_options(true);
  o.vocab_size = 64;
  try {
    o.validate();
    FAIL() << "vocab_size == input_seq_len accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key_path(), "vocab_size");
  }
}

}  // namespace
}  // namespace experiments
}  // namespace xlstm
