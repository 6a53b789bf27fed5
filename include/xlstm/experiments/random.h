// Deterministic randomness for the synthetic data: a fixed engine (std::mt19937_64, whose output
// the C++ standard pins down) and our own distributions (std:: distributions are implementation
// defined), so one seed gives the same data on every platform and standard library.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace xlstm {
namespace experiments {

/// SplitMix64 finaliser: a bijective 64-bit mix, used to derive independent seeds.
uint64_t mix_seed(uint64_t x);

/// Seed of example `index` of a stream seeded with `seed` (the official generator uses
/// `base_seed + index`; a mixed value keeps neighbouring examples' engines unrelated).
uint64_t derive_example_seed(uint64_t seed, uint64_t index);

/// Seed of a named split ("train", "validation", "test", "validation_L64_kv4", ...) of a data set
/// seeded with `seed` (the official code draws one seed per split from `random.Random(seed)`).
uint64_t derive_split_seed(uint64_t seed, std::string_view split);

/// std::mt19937_64 plus distributions with a fixed algorithm.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  /// Uniform integer in [low, high] (both inclusive), by rejection sampling (no modulo bias).
  int64_t uniform_int(int64_t low, int64_t high);
  /// Uniform double in (0, 1]: never 0, so its logarithm is finite.
  double uniform_open_closed();
  /// `count` distinct integers from [low, high] in uniformly random order (partial Fisher-Yates):
  /// numpy's `choice(arange(low, high + 1), size=count, replace=False)`.
  std::vector<int64_t> sample_without_replacement(int64_t low, int64_t high, int64_t count);
  /// `count` distinct indices into `weights`, drawn one after another with probability
  /// proportional to the weight among those left (numpy's `choice(n, size, replace=False, p=...)`),
  /// in the order drawn; implemented with Efraimidis-Spirakis keys log(u)/w.
  std::vector<int64_t> weighted_sample_without_replacement(const std::vector<double>& weights,
                                                           int64_t count);

 private:
  std::mt19937_64 engine_;
};

}  // namespace experiments
}  // namespace xlstm
