// The BPE model of a byte-level tokenizer: a word's bytes start as one symbol each and adjacent
// pairs merge, the pair of lowest rank first (the leftmost among equals), until no pair of the
// merge list is left, as the Hugging Face `tokenizers` library merges a word.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace xlstm::generation {

class BpeModel {
 public:
  struct Merge {
    uint32_t rank;
    uint32_t id;  // the merged token
  };

  /// `vocab`: token string (in the byte-level alphabet, UTF-8) -> id; `byte_ids`: the id of each
  /// byte's one-character token; `merges`: pair_key(left, right) -> merge. With `ignore_merges` a
  /// word that is a token as a whole becomes that token.
  BpeModel(std::unordered_map<std::string, uint32_t> vocab, std::array<uint32_t, 256> byte_ids,
           std::unordered_map<uint64_t, Merge> merges, bool ignore_merges);
  ~BpeModel();
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;

  static uint64_t pair_key(uint32_t left, uint32_t right) {
    return (static_cast<uint64_t>(left) << 32) | right;
  }

  /// Appends the tokens of one pre-token (raw bytes) to `ids`.
  void tokenize(const std::string& word, std::vector<int64_t>& ids) const;

 private:
  std::vector<uint32_t> merge_word(const std::string& word) const;

  std::unordered_map<std::string, uint32_t> vocab_;
  std::array<uint32_t, 256> byte_ids_;
  std::unordered_map<uint64_t, Merge> merges_;
  bool ignore_merges_;
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace xlstm::generation
