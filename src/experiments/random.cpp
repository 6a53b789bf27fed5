#include "xlstm/experiments/random.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace xlstm {
namespace experiments {

uint64_t mix_seed(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t derive_example_seed(uint64_t seed, uint64_t index) {
  return mix_seed(mix_seed(seed) ^ mix_seed(index ^ 0x6A09E667F3BCC908ULL));
}

uint64_t derive_split_seed(uint64_t seed, std::string_view split) {
  uint64_t hash = 0xCBF29CE484222325ULL;  // FNV-1a over the split name
  for (const char c : split) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  }
  return mix_seed(mix_seed(seed) ^ hash);
}

int64_t Rng::uniform_int(int64_t low, int64_t high) {
  if (low > high) {
    throw std::invalid_argument("Rng::uniform_int: empty range [" + std::to_string(low) + ", " +
                                std::to_string(high) + "]");
  }
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) + 1;
  if (range == 0) return static_cast<int64_t>(engine_());  // the full 64-bit range
  // Accept draws >= 2^64 mod range: the accepted interval is a multiple of `range` long.
  const uint64_t threshold = (0 - range) % range;
  uint64_t draw = engine_();
  while (draw < threshold) draw = engine_();
  return static_cast<int64_t>(static_cast<uint64_t>(low) + draw % range);
}

double Rng::uniform_open_closed() {
  return (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53;
}

std::vector<int64_t> Rng::sample_without_replacement(int64_t low, int64_t high, int64_t count) {
  if (count < 0 || count > high - low + 1) {
    throw std::invalid_argument("Rng::sample_without_replacement: cannot draw " +
                                std::to_string(count) + " distinct values from [" +
                                std::to_string(low) + ", " + std::to_string(high) + "]");
  }
  // Partial Fisher-Yates: the first `count` entries of a random permutation of low..high.
  std::vector<int64_t> pool(static_cast<size_t>(high - low + 1));
  std::iota(pool.begin(), pool.end(), low);
  for (int64_t i = 0; i < count; ++i) {
    std::swap(pool[static_cast<size_t>(i)],
              pool[static_cast<size_t>(uniform_int(i, static_cast<int64_t>(pool.size()) - 1))]);
  }
  pool.resize(static_cast<size_t>(count));
  return pool;
}

std::vector<int64_t> Rng::weighted_sample_without_replacement(const std::vector<double>& weights,
                                                              int64_t count) {
  const auto n = static_cast<int64_t>(weights.size());
  if (count < 0 || count > n) {
    throw std::invalid_argument("Rng::weighted_sample_without_replacement: cannot draw " +
                                std::to_string(count) + " of " + std::to_string(n) + " items");
  }
  // Efraimidis-Spirakis: the `count` largest keys log(u_i)/w_i, in decreasing key order, are
  // distributed as successive draws proportional to the remaining weights.
  std::vector<double> keys(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!(weights[i] > 0.0)) {
      throw std::invalid_argument("Rng::weighted_sample_without_replacement: weight " +
                                  std::to_string(i) + " is not positive");
    }
    keys[i] = std::log(uniform_open_closed()) / weights[i];
  }
  std::vector<int64_t> order(weights.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](int64_t a, int64_t b) {
    return keys[a] > keys[b] || (keys[a] == keys[b] && a < b);
  });
  order.resize(static_cast<size_t>(count));
  return order;
}

}  // namespace experiments
}  // namespace xlstm
