#include "xlstm/config/dtype_names.h"

namespace xlstm {

const std::vector<std::string>& dtype_names() {
  static const std::vector<std::string> names = {"float32", "bfloat16", "float16"};
  return names;
}

}  // namespace xlstm
