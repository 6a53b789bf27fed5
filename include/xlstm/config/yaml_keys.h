// A first look at a YAML config file, before it is mapped onto a struct: which keys its top-level
// mapping has (how the binaries tell what kind of model a file describes).
#pragma once

#include <string>
#include <vector>

namespace xlstm {

/// The keys of the file's top-level mapping in document order (none for an empty document or a
/// top level that is not a mapping). Errors reading or parsing the file are ConfigErrors.
std::vector<std::string> yaml_top_level_keys(const std::string& path);

}  // namespace xlstm
