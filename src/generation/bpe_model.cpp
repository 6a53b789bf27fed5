#include "bpe_model.h"

#include <mutex>
#include <queue>

#include "byte_level.h"
#include "unicode.h"

namespace xlstm::generation {

// Words seen before, up to a bound (text repeats its words; a cache hit skips the merging).
struct BpeModel::Cache {
  static constexpr size_t kMaxWords = 100000;
  static constexpr size_t kMaxWordBytes = 256;
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<uint32_t>> words;
};

BpeModel::BpeModel(std::unordered_map<std::string, uint32_t> vocab,
                   std::array<uint32_t, 256> byte_ids, std::unordered_map<uint64_t, Merge> merges,
                   bool ignore_merges)
    : vocab_(std::move(vocab)),
      byte_ids_(byte_ids),
      merges_(std::move(merges)),
      ignore_merges_(ignore_merges),
      cache_(std::make_unique<Cache>()) {}

BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;

void BpeModel::tokenize(const std::string& word, std::vector<int64_t>& ids) const {
  if (ignore_merges_) {
    std::string token;
    for (const char b : word) unicode::append_utf8(token, byte_level::byte_char(b));
    if (const auto it = vocab_.find(token); it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= Cache::kMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (const auto it = cache_->words.find(word); it != cache_->words.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<uint32_t> merged = merge_word(word);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() < Cache::kMaxWords) cache_->words.emplace(word, std::move(merged));
  }
}

std::vector<uint32_t> BpeModel::merge_word(const std::string& word) const {
  struct Symbol {
    uint32_t id;
    int64_t prev, next;  // neighbours still alive, -1 at the ends
    bool alive;
  };
  struct Candidate {
    uint32_t rank;
    int64_t pos;  // the left symbol
    uint32_t id;  // what the pair merges into
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const auto n = static_cast<int64_t>(word.size());
  std::vector<Symbol> symbols(word.size());
  for (int64_t i = 0; i < n; ++i)
    symbols[i] = {byte_ids_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1,
                  true};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto offer = [&](int64_t left) {
    const int64_t right = symbols[left].next;
    if (right < 0) return;
    const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.id});
  };
  for (int64_t i = 0; i + 1 < n; ++i) offer(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    // An entry is stale when either symbol changed since it was offered.
    const auto it = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (it == merges_.end() || it->second.id != top.id) continue;
    Symbol& right = symbols[left.next];
    left.id = top.id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) offer(left.prev);
    offer(top.pos);
  }
  std::vector<uint32_t> ids;
  for (const Symbol& s : symbols)
    if (s.alive) ids.push_back(s.id);
  return ids;
}

}  // namespace xlstm::generation
