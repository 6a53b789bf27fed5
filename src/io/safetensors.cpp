#include "xlstm/io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <sys/mman.h>

#include "atomic_file.h"
#include "input_file.h"
#include "json.h"

namespace xlstm::io {
// Named, not anonymous: MappedSafetensors::Contents holds a MappedFile and Entries (anonymous types
// there would give the class internal linkage in a unity build).
namespace safetensors_detail {

// The reference implementation refuses headers above 100 MB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeName kDtypes[] = {{"F64", torch::kFloat64}, {"F32", torch::kFloat32},
                                 {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
                                 {"I64", torch::kInt64},   {"I32", torch::kInt32},
                                 {"I16", torch::kInt16},   {"I8", torch::kInt8},
                                 {"U8", torch::kUInt8},    {"BOOL", torch::kBool}};

bool host_is_little_endian() {
  const uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw SafetensorsError("safetensors file '" + path + "': " + what);
}

std::unique_ptr<InputFile> open_input(const std::string& path) {
  try {
    return std::make_unique<InputFile>(path);
  } catch (const std::runtime_error& e) {
    fail(path, e.what());
  }
}

// A read-only private mapping of a whole regular file, unmapped on destruction.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const auto file = open_input(path);
    size_ = static_cast<size_t>(file->size());
    if (size_ > 0) {
      void* data = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file->fd(), 0);
      if (data == MAP_FAILED) fail(path, std::string("cannot mmap: ") + std::strerror(errno));
      data_ = static_cast<const unsigned char*>(data);
    }
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

struct Entry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

Entry parse_entry(const std::string& path, const std::string& name, const json::Value& v) {
  const std::string where = "tensor '" + name + "': ";
  if (v.kind != json::Value::Kind::object) fail(path, where + "entry is not a JSON object");
  const json::Value* dtype = v.find("dtype");
  const json::Value* shape = v.find("shape");
  const json::Value* offsets = v.find("data_offsets");
  if (dtype == nullptr) fail(path, where + "missing \"dtype\"");
  if (shape == nullptr) fail(path, where + "missing \"shape\"");
  if (offsets == nullptr) fail(path, where + "missing \"data_offsets\"");

  Entry e{name, torch::kFloat32, {}, 0, 0};
  if (dtype->kind != json::Value::Kind::string) fail(path, where + "\"dtype\" is not a string");
  const auto known = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                                  [&](const DtypeName& d) { return dtype->text == d.name; });
  if (known == std::end(kDtypes)) fail(path, where + "unknown dtype " + json::quote(dtype->text));
  e.dtype = known->type;

  if (shape->kind != json::Value::Kind::array) fail(path, where + "\"shape\" is not an array");
  uint64_t numel = 1;
  for (const json::Value& dim : shape->items) {
    const auto size = dim.as_uint64();
    if (!size) fail(path, where + "shape entry '" + dim.text + "' is not a non-negative integer");
    if (*size > static_cast<uint64_t>(INT64_MAX) ||
        (*size != 0 && numel > static_cast<uint64_t>(INT64_MAX) / *size))
      fail(path, where + "shape overflows 64 bits");
    numel *= *size;
    e.shape.push_back(static_cast<int64_t>(*size));
  }

  if (offsets->kind != json::Value::Kind::array || offsets->items.size() != 2)
    fail(path, where + "\"data_offsets\" is not an array of two integers");
  const auto begin = offsets->items[0].as_uint64();
  const auto end = offsets->items[1].as_uint64();
  if (!begin || !end) fail(path, where + "\"data_offsets\" are not non-negative integers");
  if (*begin > *end)
    fail(path,
         where + "data_offsets begin " + std::to_string(*begin) + " > end " + std::to_string(*end));
  e.begin = *begin;
  e.end = *end;

  const uint64_t itemsize = c10::elementSize(e.dtype);
  if (numel > UINT64_MAX / itemsize) fail(path, where + "byte size overflows 64 bits");
  if (numel * itemsize != e.end - e.begin)
    fail(path, where + "byte range of " + std::to_string(e.end - e.begin) +
                   " bytes does not hold numel " + std::to_string(numel) + " * itemsize " +
                   std::to_string(itemsize));
  return e;
}

Metadata parse_metadata(const std::string& path, const json::Value& v) {
  if (v.kind != json::Value::Kind::object) fail(path, "\"__metadata__\" is not a JSON object");
  Metadata metadata;
  for (const auto& [key, value] : v.members) {
    if (value.kind != json::Value::Kind::string)
      fail(path, "metadata value of '" + key + "' is not a string");
    metadata[key] = value.text;
  }
  return metadata;
}

// Ranges may leave gaps but must not share bytes.
void check_no_overlap(const std::string& path, std::vector<const Entry*> entries) {
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const Entry* e) { return e->begin == e->end; }),
                entries.end());
  std::sort(entries.begin(), entries.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i]->begin < entries[i - 1]->end)
      fail(path, "byte ranges of tensors '" + entries[i - 1]->name + "' and '" + entries[i]->name +
                     "' overlap");
}

std::string dtype_name(const std::string& key, torch::ScalarType type) {
  for (const DtypeName& d : kDtypes)
    if (d.type == type) return d.name;
  throw SafetensorsError("cannot save tensor '" + key + "': dtype " +
                         std::string(c10::toString(type)) + " has no safetensors name");
}

}  // namespace safetensors_detail
using namespace safetensors_detail;

struct MappedSafetensors::Contents {
  MappedFile file;
  std::map<std::string, Entry> entries;
  const unsigned char* data = nullptr;  // the data section
  Metadata metadata;

  explicit Contents(const std::string& path) : file(path) {}
};

MappedSafetensors::MappedSafetensors(const std::string& path) : path_(path) {
  if (!host_is_little_endian()) fail(path, "reading needs a little-endian host");
  const auto contents = std::make_shared<Contents>(path);
  const MappedFile& file = contents->file;
  if (file.size() < 8)
    fail(path, "file of " + std::to_string(file.size()) +
                   " bytes is shorter than the 8-byte header length");
  const uint64_t header_bytes = read_u64_le(file.data());
  if (header_bytes > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_bytes) + " is absurdly large (limit " +
                   std::to_string(kMaxHeaderBytes) + ")");
  if (header_bytes > file.size() - 8)
    fail(path, "header length " + std::to_string(header_bytes) +
                   " runs past the end of the file (" + std::to_string(file.size()) + " bytes)");

  json::Value header;
  try {
    header =
        json::parse(std::string_view(reinterpret_cast<const char*>(file.data() + 8), header_bytes));
  } catch (const std::runtime_error& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (header.kind != json::Value::Kind::object) fail(path, "header is not a JSON object");

  const uint64_t data_bytes = file.size() - 8 - header_bytes;
  std::vector<const Entry*> ranges;
  for (const auto& [key, value] : header.members) {
    if (key == kMetadataKey) {
      contents->metadata = parse_metadata(path, value);
      continue;
    }
    Entry e = parse_entry(path, key, value);
    if (e.end > data_bytes)
      fail(path, "tensor '" + e.name + "': data_offsets end " + std::to_string(e.end) +
                     " is past the end of the data section (" + std::to_string(data_bytes) +
                     " bytes)");
    names_.push_back(key);
    ranges.push_back(&contents->entries.emplace(key, std::move(e)).first->second);
  }
  check_no_overlap(path, ranges);
  contents->data = file.data() + 8 + header_bytes;
  contents_ = contents;
}

const Metadata& MappedSafetensors::metadata() const {
  return contents_->metadata;
}

bool MappedSafetensors::contains(const std::string& name) const {
  return contents_->entries.count(name) > 0;
}

torch::Tensor MappedSafetensors::view(const std::string& name) const {
  const auto found = contents_->entries.find(name);
  if (found == contents_->entries.end()) fail(path_, "no tensor '" + name + "'");
  const Entry& e = found->second;
  const unsigned char* begin = contents_->data + e.begin;
  if (e.dtype == torch::kBool &&
      std::any_of(begin, contents_->data + e.end, [](unsigned char b) { return b > 1; }))
    fail(path_, "tensor '" + e.name + "': BOOL byte other than 0 or 1");
  if (e.begin == e.end) return torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
  // The view keeps the mapping alive; the mapping is read-only (PROT_READ): never write to it.
  auto keep = contents_;
  return torch::from_blob(
      const_cast<unsigned char*>(begin), e.shape, [keep](void*) mutable { keep.reset(); },
      torch::TensorOptions().dtype(e.dtype));
}

SafetensorsContents read_safetensors(const std::string& path) {
  const MappedSafetensors file(path);
  SafetensorsContents contents;
  contents.metadata = file.metadata();
  // Copies: the tensors own aligned memory and outlive the mapping.
  for (const auto& name : file.names()) contents.tensors.emplace(name, file.view(name).clone());
  return contents;
}

TensorMap load_safetensors(const std::string& path) {
  return read_safetensors(path).tensors;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  if (!host_is_little_endian()) fail(path, "writing needs a little-endian host");
  std::vector<torch::Tensor> contiguous;
  std::string header = "{";
  if (!metadata.empty()) {
    header += json::quote(kMetadataKey) + ":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      header += (first ? "" : ",") + json::quote(key) + ":" + json::quote(value);
      first = false;
    }
    header += "}";
  }
  // Larger items first (then by name), as the reference writer does: with the data section
  // 8-byte aligned, every tensor starts at a multiple of its item size.
  std::vector<std::pair<std::string, torch::Tensor>> ordered(tensors.begin(), tensors.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.second.defined() && b.second.defined() &&
           a.second.element_size() > b.second.element_size();
  });
  uint64_t offset = 0;
  for (const auto& [key, tensor] : ordered) {
    if (key == kMetadataKey) fail(path, "a tensor cannot be named \"__metadata__\"");
    if (!tensor.defined()) fail(path, "tensor '" + key + "' is undefined");
    const std::string dtype = dtype_name(key, tensor.scalar_type());
    contiguous.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const uint64_t bytes = contiguous.back().numel() * contiguous.back().element_size();
    header += (header.size() > 1 ? "," : "") + json::quote(key) + ":{\"dtype\":\"" + dtype +
              "\",\"shape\":[";
    for (int64_t d = 0; d < tensor.dim(); ++d)
      header += (d > 0 ? "," : "") + std::to_string(tensor.size(d));
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned

  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header.size() >> (8 * i));
  try {
    AtomicFileWriter out(path);
    out.write(length, sizeof length);
    out.write(header.data(), header.size());
    for (const torch::Tensor& t : contiguous) out.write(t.data_ptr(), t.numel() * t.element_size());
    out.commit();
  } catch (const std::runtime_error& e) {
    fail(path, e.what());
  }
}

}  // namespace xlstm::io
