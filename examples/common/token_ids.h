// Token ids given on a command line ("--prompt-ids", "--decode"): whole numbers separated by white
// space.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xlstm::apps {

/// The ids in `text`, each in 0 .. vocab_size - 1; std::invalid_argument naming `option` and the
/// word otherwise ("--decode: '503' is not a token id in 0..502").
std::vector<int64_t> parse_token_ids(const std::string& text, const std::string& option,
                                     int64_t vocab_size);

}  // namespace xlstm::apps
