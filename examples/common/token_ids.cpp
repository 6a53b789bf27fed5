#include "token_ids.h"

#include <sstream>
#include <stdexcept>

namespace xlstm::apps {

std::vector<int64_t> parse_token_ids(const std::string& text, const std::string& option,
                                     int64_t vocab_size) {
  std::istringstream in(text);
  std::vector<int64_t> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    int64_t id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
    }
    if (used != word.size() || id < 0 || id >= vocab_size)
      throw std::invalid_argument(option + ": '" + word + "' is not a token id in 0.." +
                                  std::to_string(vocab_size - 1));
    ids.push_back(id);
  }
  return ids;
}

}  // namespace xlstm::apps
