// save_weights / load_weights: the file format chosen by the extension.
#include "xlstm/io/state_dict.h"

namespace xlstm::io {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

enum class Format { safetensors, pt };

Format format_of(const std::string& path) {
  if (ends_with(path, ".safetensors")) return Format::safetensors;
  if (ends_with(path, ".pt") || ends_with(path, ".pth")) return Format::pt;
  throw std::runtime_error("weights file '" + path +
                           "': unknown extension (expected .safetensors, .pt or .pth)");
}

}  // namespace

void save_weights(const std::string& path, const torch::nn::Module& module,
                  const Metadata& metadata) {
  if (format_of(path) == Format::safetensors)
    return save_safetensors(path, state_dict(module), metadata);
  if (!metadata.empty())
    throw std::runtime_error("weights file '" + path + "': metadata needs the .safetensors format");
  save_pt(path, state_dict(module));
}

TensorMap read_weights(const std::string& path) {
  return format_of(path) == Format::safetensors ? load_safetensors(path) : load_pt(path);
}

TensorMap strip_prefix(const TensorMap& tensors, const std::string& prefix) {
  TensorMap out;
  for (const auto& [name, tensor] : tensors) {
    if (name.compare(0, prefix.size(), prefix) == 0)
      out.emplace(name.substr(prefix.size()), tensor);
  }
  return out;
}

LoadReport load_weights(const std::string& path, torch::nn::Module& module, bool strict) {
  return load_state_dict(module, read_weights(path), strict);
}

}  // namespace xlstm::io
