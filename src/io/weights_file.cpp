// save_weights / load_weights and the torch.save (.pt) format.
#include <fstream>
#include <iterator>

#include "atomic_file.h"
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

TensorMap load_pt(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("torch.save file '" + path + "': cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  torch::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        "torch.save file '" + path +
        "': cannot unpickle (zip format of torch >= 1.6 expected): " + e.what());
  }
  if (!value.isGenericDict())
    throw std::runtime_error("torch.save file '" + path + "': holds a " + value.tagKind() +
                             ", not a dict of name -> tensor");
  TensorMap tensors;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw std::runtime_error("torch.save file '" + path + "': entry of kind " +
                               entry.key().tagKind() + " -> " + entry.value().tagKind() +
                               " is not a name -> tensor");
    tensors.emplace(entry.key().toStringRef(), entry.value().toTensor());
  }
  return tensors;
}

void save_pt(const std::string& path, const TensorMap& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().to(torch::kCPU));
  const std::vector<char> bytes = torch::pickle_save(torch::IValue(dict));
  AtomicFileWriter out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

void save_weights(const std::string& path, const torch::nn::Module& module,
                  const Metadata& metadata) {
  if (format_of(path) == Format::safetensors)
    return save_safetensors(path, state_dict(module), metadata);
  if (!metadata.empty())
    throw std::runtime_error("weights file '" + path + "': metadata needs the .safetensors format");
  save_pt(path, state_dict(module));
}

LoadReport load_weights(const std::string& path, torch::nn::Module& module, bool strict) {
  const TensorMap tensors =
      format_of(path) == Format::safetensors ? load_safetensors(path) : load_pt(path);
  return load_state_dict(module, tensors, strict);
}

}  // namespace xlstm::io
