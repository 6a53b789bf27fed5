#include "tokenizer_json.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <unordered_map>

#include "../io/json.h"
#include "byte_level.h"
#include "unicode.h"

namespace xlstm::generation {
namespace {

using io::json::quote;
using io::json::Value;
using Kind = Value::Kind;

constexpr uint64_t kMaxVocab = uint64_t{1} << 24;

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::null:
      return "null";
    case Kind::boolean:
      return "a boolean";
    case Kind::number:
      return "a number";
    case Kind::string:
      return "a string";
    case Kind::array:
      return "an array";
    case Kind::object:
      return "an object";
  }
  return "?";
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string item(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

class SpecReader {
 public:
  SpecReader(std::string_view json, const std::string& origin) : origin_(origin) {
    try {
      root_ = io::json::parse(json);
    } catch (const std::runtime_error& e) {
      fail("", e.what());
    }
  }

  TokenizerSpec read() {
    expect(root_, Kind::object, "");
    for (const char* key : {"truncation", "padding"})
      if (present(root_, key))
        fail(key, "only null is supported (a single encode is neither cut nor padded here)");
    read_model(required(root_, "", "model"), "model");
    read_added_tokens();
    if (present(root_, "normalizer")) read_normalizer(*root_.find("normalizer"), "normalizer");
    int byte_levels = 0;
    read_pre_tokenizer(required(root_, "", "pre_tokenizer"), "pre_tokenizer", byte_levels);
    if (byte_levels != 1)
      fail("pre_tokenizer", byte_levels == 0 ? "no ByteLevel pre-tokenizer"
                                             : "more than one ByteLevel pre-tokenizer");
    if (present(root_, "post_processor"))
      read_post_processor(*root_.find("post_processor"), "post_processor");
    const Value& decoder = required(root_, "", "decoder");
    if (const std::string type = type_of(decoder, "decoder"); type != "ByteLevel")
      fail("decoder.type", quote(type) + " is not supported (ByteLevel is)");
    return std::move(spec_);
  }

 private:
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw std::runtime_error(origin_ + ": " + (path.empty() ? "" : path + ": ") + what);
  }

  const Value& expect(const Value& v, Kind kind, const std::string& path) const {
    if (v.kind != kind)
      fail(path, std::string("expected ") + kind_name(kind) + ", got " + kind_name(v.kind));
    return v;
  }

  /// Whether `object` has `key` with a value other than null.
  static bool present(const Value& object, const std::string& key) {
    const Value* v = object.find(key);
    return v != nullptr && v->kind != Kind::null;
  }

  const Value& required(const Value& object, const std::string& path, const std::string& key) {
    const Value* v = object.find(key);
    if (v == nullptr) fail(join(path, key), "missing");
    return *v;
  }

  void check_utf8(const std::string& s, const std::string& path) const {
    try {
      unicode::decode_utf8(s);
    } catch (const std::invalid_argument& e) {
      fail(path, e.what());
    }
  }

  const std::string& text(const Value& v, const std::string& path) const {
    expect(v, Kind::string, path);
    check_utf8(v.text, path);
    return v.text;
  }

  bool flag(const Value& object, const std::string& path, const std::string& key, bool fallback) {
    if (!present(object, key)) return fallback;
    return expect(*object.find(key), Kind::boolean, join(path, key)).boolean;
  }

  uint64_t id_of(const Value& v, const std::string& path) const {
    const auto id = v.as_uint64();
    if (!id)
      fail(path, "expected a non-negative whole number, got " + std::string(kind_name(v.kind)));
    return *id;
  }

  std::string type_of(const Value& v, const std::string& path) {
    expect(v, Kind::object, path);
    return text(required(v, path, "type"), join(path, "type"));
  }

  void read_model(const Value& model, const std::string& path) {
    expect(model, Kind::object, path);
    if (present(model, "type"))
      if (const std::string type = text(*model.find("type"), join(path, "type")); type != "BPE")
        fail(join(path, "type"), quote(type) + " is not supported (BPE is)");
    for (const char* key : {"dropout", "unk_token"})
      if (present(model, key)) fail(join(path, key), "only null is supported");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (present(model, key) && text(*model.find(key), join(path, key)) != "")
        fail(join(path, key), "only null is supported");
    if (flag(model, path, "byte_fallback", false))
      fail(join(path, "byte_fallback"), "only false is supported");
    flag(model, path, "fuse_unk", false);  // without an unk_token it changes nothing
    const bool ignore_merges = flag(model, path, "ignore_merges", false);

    const std::string vocab_path = join(path, "vocab");
    const Value& vocab = expect(required(model, path, "vocab"), Kind::object, vocab_path);
    const size_t n = vocab.members.size();
    if (n > kMaxVocab) fail(vocab_path, std::to_string(n) + " tokens is absurd");
    spec_.tokens.assign(n, "");
    std::vector<bool> taken(n, false);
    ids_.reserve(n);
    for (const auto& [token, value] : vocab.members) {
      const std::string at = vocab_path + "[" + quote(token) + "]";
      check_utf8(token, at);
      const uint64_t id = id_of(value, at);
      if (id >= n)
        fail(at, "id " + std::to_string(id) + " is outside 0.." + std::to_string(n - 1) + " (the " +
                     std::to_string(n) + " tokens must have the ids 0.." + std::to_string(n - 1) +
                     ")");
      if (taken[id])
        fail(at, "id " + std::to_string(id) + " is also the id of " + quote(spec_.tokens[id]));
      taken[id] = true;
      spec_.tokens[id] = token;
      ids_.emplace(token, static_cast<int64_t>(id));
    }
    std::array<uint32_t, 256> byte_ids{};
    for (unsigned b = 0; b < 256; ++b) {
      std::string c;
      unicode::append_utf8(c, byte_level::byte_char(static_cast<uint8_t>(b)));
      const auto it = ids_.find(c);
      if (it == ids_.end()) {
        char byte[8];
        std::snprintf(byte, sizeof byte, "0x%02X", b);
        fail(vocab_path, "the byte-level character " + quote(c) + " (byte " + byte +
                             ") is missing: some text could not be encoded");
      }
      byte_ids[b] = static_cast<uint32_t>(it->second);
    }
    std::unordered_map<std::string, uint32_t> model_vocab;
    model_vocab.reserve(n);
    for (const auto& [token, id] : ids_) model_vocab.emplace(token, static_cast<uint32_t>(id));
    spec_.model.emplace(std::move(model_vocab), byte_ids, read_merges(model, path), ignore_merges);
  }

  std::unordered_map<uint64_t, BpeModel::Merge> read_merges(const Value& model,
                                                            const std::string& path) {
    const std::string merges_path = join(path, "merges");
    const Value& merges = expect(required(model, path, "merges"), Kind::array, merges_path);
    std::unordered_map<uint64_t, BpeModel::Merge> out;
    out.reserve(merges.items.size());
    for (size_t rank = 0; rank < merges.items.size(); ++rank) {
      const std::string at = item(merges_path, rank);
      const Value& merge = merges.items[rank];
      std::string left, right;
      if (merge.kind == Kind::string) {
        const std::string& line = text(merge, at);
        const size_t space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
          fail(at, "expected \"left right\" with one space, got " + quote(line));
        left = line.substr(0, space);
        right = line.substr(space + 1);
      } else if (merge.kind == Kind::array && merge.items.size() == 2) {
        left = text(merge.items[0], item(at, 0));
        right = text(merge.items[1], item(at, 1));
      } else {
        fail(at,
             std::string("expected \"left right\" or [left, right], got ") + kind_name(merge.kind) +
                 (merge.kind == Kind::array ? " of " + std::to_string(merge.items.size()) : ""));
      }
      const auto id = [&](const std::string& token, const char* what) {
        const auto it = ids_.find(token);
        if (it == ids_.end()) fail(at, std::string(what) + quote(token) + " is not in model.vocab");
        return static_cast<uint32_t>(it->second);
      };
      // In this order (not as operands of one expression, whose order the compiler picks), so
      // the first missing token is named.
      const uint32_t left_id = id(left, "the left part "), right_id = id(right, "the right part ");
      const uint32_t merged_id = id(left + right, "the merged token ");
      // A repeated pair takes its later rank, as in tokenizers' map of merges.
      out[BpeModel::pair_key(left_id, right_id)] = {static_cast<uint32_t>(rank), merged_id};
    }
    return out;
  }

  void read_added_tokens() {
    if (!present(root_, "added_tokens")) return;
    const Value& list = expect(*root_.find("added_tokens"), Kind::array, "added_tokens");
    const auto model_size = static_cast<int64_t>(spec_.tokens.size());
    int64_t max_id = -1;
    std::unordered_map<std::string, size_t> seen;
    for (size_t i = 0; i < list.items.size(); ++i) {
      const std::string at = item("added_tokens", i);
      const Value& token = expect(list.items[i], Kind::object, at);
      const std::string content = text(required(token, at, "content"), join(at, "content"));
      if (content.empty()) fail(join(at, "content"), "empty");
      const uint64_t id = id_of(required(token, at, "id"), join(at, "id"));
      const bool special = flag(token, at, "special", false);
      const bool normalized = flag(token, at, "normalized", !special);
      for (const char* key : {"lstrip", "rstrip", "single_word"})
        if (flag(token, at, key, false)) fail(join(at, key), "true is not supported (only false)");
      if (const auto [it, fresh] = seen.emplace(content, i); !fresh)
        fail(join(at, "content"),
             quote(content) + " is also added_tokens[" + std::to_string(it->second) + "]");
      // tokenizers gives an added token its model id, else the next id after the model's and
      // the added tokens' so far, whatever the file says.
      const auto in_model = ids_.find(content);
      const int64_t expected =
          in_model != ids_.end() ? in_model->second : std::max(model_size, max_id + 1);
      if (static_cast<int64_t>(id) != expected)
        fail(join(at, "id"),
             "id " + std::to_string(id) + ", but " + quote(content) + " gets id " +
                 std::to_string(expected) +
                 (in_model != ids_.end() ? " (its id in model.vocab)" : " (the next free id)"));
      max_id = std::max(max_id, expected);
      if (expected >= model_size) {
        spec_.tokens.push_back(content);
        ids_.emplace(content, expected);
      }
      spec_.added.push_back({content, expected, special, normalized});
    }
  }

  void read_normalizer(const Value& v, const std::string& path) {
    const std::string type = type_of(v, path);
    if (type == "NFC") {
      spec_.nfc = true;
    } else if (type == "Sequence") {
      const std::string list_path = join(path, "normalizers");
      const Value& list = expect(required(v, path, "normalizers"), Kind::array, list_path);
      for (size_t i = 0; i < list.items.size(); ++i)
        read_normalizer(list.items[i], item(list_path, i));
    } else {
      fail(join(path, "type"), quote(type) + " is not supported (NFC, or a Sequence of NFC)");
    }
  }

  void read_pre_tokenizer(const Value& v, const std::string& path, int& byte_levels) {
    const std::string type = type_of(v, path);
    if (type == "ByteLevel") {
      ++byte_levels;
      spec_.add_prefix_space = expect(required(v, path, "add_prefix_space"), Kind::boolean,
                                      join(path, "add_prefix_space"))
                                   .boolean;
      spec_.use_regex = flag(v, path, "use_regex", true);
    } else if (type == "Sequence") {
      const std::string list_path = join(path, "pretokenizers");
      const Value& list = expect(required(v, path, "pretokenizers"), Kind::array, list_path);
      for (size_t i = 0; i < list.items.size(); ++i)
        read_pre_tokenizer(list.items[i], item(list_path, i), byte_levels);
    } else {
      fail(join(path, "type"),
           quote(type) + " is not supported (ByteLevel, or a Sequence holding one ByteLevel)");
    }
  }

  void read_post_processor(const Value& v, const std::string& path) {
    const std::string type = type_of(v, path);
    if (type == "ByteLevel") return;  // offsets only
    if (type == "TemplateProcessing") return read_template(v, path);
    if (type == "Sequence") {
      const std::string list_path = join(path, "processors");
      const Value& list = expect(required(v, path, "processors"), Kind::array, list_path);
      for (size_t i = 0; i < list.items.size(); ++i)
        read_post_processor(list.items[i], item(list_path, i));
      return;
    }
    fail(join(path, "type"), quote(type) +
                                 " is not supported (ByteLevel, TemplateProcessing, or a Sequence "
                                 "of those)");
  }

  void read_template(const Value& v, const std::string& path) {
    if (templated_) fail(path, "a second TemplateProcessing");
    templated_ = true;
    const std::string single_path = join(path, "single");
    const Value& single = expect(required(v, path, "single"), Kind::array, single_path);
    const std::string specials_path = join(path, "special_tokens");
    const Value& specials =
        expect(required(v, path, "special_tokens"), Kind::object, specials_path);
    bool seen_sequence = false;
    for (size_t i = 0; i < single.items.size(); ++i) {
      const std::string at = item(single_path, i);
      const Value& piece = expect(single.items[i], Kind::object, at);
      if (piece.members.size() != 1)
        fail(at, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      const auto& [kind, body] = piece.members[0];
      const std::string body_path = join(at, kind);
      expect(body, Kind::object, body_path);
      const std::string name = text(required(body, body_path, "id"), join(body_path, "id"));
      if (kind == "Sequence") {
        if (name != "A") fail(join(body_path, "id"), "only $A is supported in a single sequence");
        if (seen_sequence) fail(at, "a second $A");
        seen_sequence = true;
      } else if (kind == "SpecialToken") {
        const Value* entry = specials.find(name);
        if (entry == nullptr)
          fail(join(body_path, "id"), quote(name) + " is not in " + specials_path);
        const std::string entry_path = specials_path + "[" + quote(name) + "]";
        const std::string ids_path = join(entry_path, "ids");
        expect(*entry, Kind::object, entry_path);
        const Value& ids = expect(required(*entry, entry_path, "ids"), Kind::array, ids_path);
        for (size_t j = 0; j < ids.items.size(); ++j) {
          const uint64_t id = id_of(ids.items[j], item(ids_path, j));
          if (id >= spec_.tokens.size())
            fail(item(ids_path, j), "id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                        std::to_string(spec_.tokens.size() - 1) + ")");
          if (i == 0 && j == 0) spec_.template_first = static_cast<int64_t>(id);
          (seen_sequence ? spec_.suffix_ids : spec_.prefix_ids).push_back(static_cast<int64_t>(id));
        }
      } else {
        fail(at, "expected SpecialToken or Sequence, got " + quote(kind));
      }
    }
    if (!seen_sequence) fail(single_path, "no $A");
  }

  std::string origin_;
  Value root_;
  TokenizerSpec spec_;
  std::unordered_map<std::string, int64_t> ids_;  // every token string -> its id
  bool templated_ = false;
};

}  // namespace

TokenizerSpec read_tokenizer_json(std::string_view json, const std::string& origin) {
  return SpecReader(json, origin).read();
}

}  // namespace xlstm::generation
