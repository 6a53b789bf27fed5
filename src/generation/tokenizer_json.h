// Reading a Hugging Face tokenizer.json of the byte-level BPE family into the parts the BPE
// tokenizer runs. Whatever the file holds that would make tokenizers encode differently from what
// is implemented here is refused with "ORIGIN: key.path: problem".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpe_model.h"

namespace xlstm::generation {

struct AddedTokenSpec {
  std::string content;
  int64_t id;
  bool special;
  bool normalized;  ///< matched in the normalised text (else in the raw text)
};

struct TokenizerSpec {
  std::optional<BpeModel> model;
  std::vector<std::string> tokens;  ///< id -> the file's spelling: model.vocab, then added tokens
  std::vector<AddedTokenSpec> added;
  bool nfc = false;  ///< normalizer NFC
  bool add_prefix_space = false;
  bool use_regex = true;
  std::vector<int64_t> prefix_ids, suffix_ids;  ///< TemplateProcessing's around $A
  std::optional<int64_t> template_first;        ///< the special token the template starts with
};

TokenizerSpec read_tokenizer_json(std::string_view json, const std::string& origin);

}  // namespace xlstm::generation
