// safetensors files (https://github.com/huggingface/safetensors): u64 little-endian header length
// N, N bytes of JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {str: str}}, then the raw little-endian row-major data (offsets relative to it).
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace xlstm::io {

using TensorMap = std::map<std::string, torch::Tensor>;
using Metadata = std::map<std::string, std::string>;

/// A file that is not a valid safetensors file, or that cannot be read or written. The message
/// names the file and the problem.
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SafetensorsContents {
  TensorMap tensors;  // CPU tensors that own their memory (copied out of the mapped file)
  Metadata metadata;  // the "__metadata__" object, empty when absent
};

/// A safetensors file mapped read-only into memory, its header checked as read_safetensors checks
/// it. view() gives a tensor over the mapped bytes without copying them (pages are read when
/// touched), for copying into a model's parameters without a host copy of the file. Views keep the
/// mapping alive and must never be written to (the pages are read-only: a write is a crash).
class MappedSafetensors {
 public:
  explicit MappedSafetensors(const std::string& path);

  const std::string& path() const { return path_; }
  /// The tensor names in header order.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const;
  /// A CPU tensor over the bytes of `name` (throws SafetensorsError for an unknown name).
  torch::Tensor view(const std::string& name) const;
  const Metadata& metadata() const;

 private:
  struct Contents;
  std::string path_;
  std::vector<std::string> names_;
  std::shared_ptr<const Contents> contents_;
};

/// Reads every tensor and the metadata. Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
/// Every malformed input (truncated file, bad header, unknown dtype, offsets out of range or
/// overlapping, size != numel * itemsize, overflowing shapes, duplicate keys) throws
/// SafetensorsError.
SafetensorsContents read_safetensors(const std::string& path);

/// The tensors of read_safetensors(path).
TensorMap load_safetensors(const std::string& path);

/// Writes CPU contiguous copies of `tensors` (any device, any strides) with `metadata`. The header
/// is padded with spaces to a multiple of 8 bytes. The file is written under a temporary name in
/// the same directory and renamed over `path`, so readers never see a partial file.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const Metadata& metadata = {});

}  // namespace xlstm::io
