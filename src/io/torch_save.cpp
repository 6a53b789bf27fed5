// load_pt / save_pt: dicts of tensors in the torch.save zip format (torch >= 1.6).
//
// LibTorch's own unpickler (torch::pickle_load) turns every collections.OrderedDict into None, so
// it cannot read a Python state_dict(). This file reads the zip records with LibTorch's
// PyTorchStreamReader and runs a small pickle machine of its own that knows exactly what a
// torch.save'd dict of tensors contains: dicts (plain or OrderedDict), tuples, lists, strings,
// numbers, storages (persistent ids) and torch._utils._rebuild_tensor_v2.
//
// Nothing here recurses: the machine is a loop over opcodes and its values live in one arena (raw
// pointers between them), so a list nested 100,000 deep or a list holding itself is freed in a
// flat loop instead of a chain of destructors that overflows the stack.
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <unistd.h>

#include "atomic_file.h"
#include "input_file.h"
#include "xlstm/io/state_dict.h"

namespace xlstm::io {
namespace {

// Values one pickle may create (a state_dict takes about 25 per tensor): bounds the memory that a
// hostile pickle can claim to some 300 MB.
constexpr size_t kMaxPickleValues = size_t{1} << 21;

struct PickleValue;
using Value = PickleValue*;  // owned by the PickleMachine's arena

// A Python value on the pickle stack. `global` is a "module.name" reference.
struct PickleValue {
  enum class Kind { none, boolean, integer, floating, string, global, tuple, list, dict, tensor };
  Kind kind = Kind::none;
  int64_t integer = 0;
  double floating = 0;
  std::string text;                              // string, or global name
  std::vector<Value> items;                      // tuple, list
  std::vector<std::pair<Value, Value>> entries;  // dict, in insertion order
  torch::Tensor tensor;
};

const std::pair<const char*, torch::ScalarType> kStorageTypes[] = {
    {"torch.DoubleStorage", torch::kFloat64}, {"torch.FloatStorage", torch::kFloat32},
    {"torch.HalfStorage", torch::kFloat16},   {"torch.BFloat16Storage", torch::kBFloat16},
    {"torch.LongStorage", torch::kInt64},     {"torch.IntStorage", torch::kInt32},
    {"torch.ShortStorage", torch::kInt16},    {"torch.CharStorage", torch::kInt8},
    {"torch.ByteStorage", torch::kUInt8},     {"torch.BoolStorage", torch::kBool}};

class PickleMachine {
 public:
  PickleMachine(const std::string& path, caffe2::serialize::PyTorchStreamReader& zip,
                const char* data, size_t size)
      : path_(path), zip_(zip), data_(data), size_(size) {}

  /// The pickled value; it lives as long as the machine.
  Value run() {
    while (true) {
      const unsigned char op = byte();
      if (op == '.') break;  // STOP
      step(op);
    }
    if (stack_.size() != 1) fail("pickle ends with " + std::to_string(stack_.size()) + " values");
    return stack_.back();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("torch.save file '" + path_ + "': " + what + " (pickle byte " +
                             std::to_string(pos_) + ")");
  }

  const char* take(size_t n) {
    if (n > size_ - pos_) fail("truncated pickle");
    const char* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  unsigned char byte() { return static_cast<unsigned char>(*take(1)); }
  uint64_t uint_le(size_t n) {
    const char* p = take(n);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
  }
  std::string line() {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (nl == nullptr) fail("truncated pickle");
    const size_t n = static_cast<const char*>(nl) - (data_ + pos_);
    std::string s(take(n), n);
    take(1);
    return s;
  }

  Value pop() {
    if (stack_.size() <= mark_floor()) fail("pickle stack underflow");
    Value o = stack_.back();
    stack_.pop_back();
    return o;
  }
  size_t mark_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Value> pop_to_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    std::vector<Value> items(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Value& top() {
    if (stack_.size() <= mark_floor()) fail("pickle stack underflow");
    return stack_.back();
  }
  void push(Value o) { stack_.push_back(std::move(o)); }

  Value integer(int64_t v) {
    Value o = make(PickleValue::Kind::integer);
    o->integer = v;
    return o;
  }
  Value string(std::string s, PickleValue::Kind kind = PickleValue::Kind::string) {
    Value o = make(kind);
    o->text = std::move(s);
    return o;
  }
  Value tuple(std::vector<Value> items) {
    Value o = make(PickleValue::Kind::tuple);
    o->items = std::move(items);
    return o;
  }
  Value& expect(Value& o, PickleValue::Kind kind, const char* what) {
    if (o->kind != kind) fail(std::string("expected ") + what);
    return o;
  }
  void set_items(Value& dict, const std::vector<Value>& kv) {
    expect(dict, PickleValue::Kind::dict, "a dict before SETITEM(S)");
    if (kv.size() % 2 != 0) fail("odd number of SETITEMS values");
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }
  void memo_put(uint64_t id) { memo_[id] = top(); }
  void memo_get(uint64_t id) {
    const auto found = memo_.find(id);
    if (found == memo_.end()) fail("memo index " + std::to_string(id) + " unset");
    push(found->second);
  }

  Value make(PickleValue::Kind kind) {
    if (values_.size() == kMaxPickleValues)
      fail("more than " + std::to_string(kMaxPickleValues) + " values");
    values_.push_back(std::make_unique<PickleValue>());
    values_.back()->kind = kind;
    return values_.back().get();
  }

  void step(unsigned char op) {
    using K = PickleValue::Kind;
    switch (op) {
      case 0x80:
        take(1);
        break;  // PROTO
      case 0x95:
        take(8);
        break;     // FRAME
      case 'c': {  // GLOBAL
        std::string module = line();
        push(string(module + "." + line(), K::global));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value name = pop(), module = pop();
        push(string(expect(module, K::string, "a module name")->text + "." +
                        expect(name, K::string, "a global name")->text,
                    K::global));
        break;
      }
      case 'q':
        memo_put(uint_le(1));
        break;  // BINPUT
      case 'r':
        memo_put(uint_le(4));
        break;  // LONG_BINPUT
      case 0x94:
        memo_put(memo_.size());
        break;  // MEMOIZE
      case 'h':
        memo_get(uint_le(1));
        break;  // BINGET
      case 'j':
        memo_get(uint_le(4));
        break;  // LONG_BINGET
      case '(':
        marks_.push_back(stack_.size());
        break;  // MARK
      case ')':
        push(tuple({}));
        break;
      case 't':
        push(tuple(pop_to_mark()));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        std::vector<Value> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(tuple(std::move(items)));
        break;
      }
      case ']':
        push(make(K::list));
        break;
      case 'a': {  // APPEND
        Value v = pop();
        expect(top(), K::list, "a list before APPEND")->items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Value> items = pop_to_mark();
        auto& list = expect(top(), K::list, "a list before APPENDS")->items;
        list.insert(list.end(), items.begin(), items.end());
        break;
      }
      case '}':
        push(make(K::dict));
        break;
      case 's': {  // SETITEM
        Value v = pop(), k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value> kv = pop_to_mark();
        set_items(top(), kv);
        break;
      }
      case 'X':
        push(text_of(uint_le(4)));
        break;  // BINUNICODE
      case 0x8c:
        push(text_of(uint_le(1)));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        push(text_of(uint_le(8)));
        break;  // BINUNICODE8
      case 'J':
        push(integer(static_cast<int32_t>(uint_le(4))));
        break;  // BININT
      case 'K':
        push(integer(static_cast<int64_t>(uint_le(1))));
        break;  // BININT1
      case 'M':
        push(integer(static_cast<int64_t>(uint_le(2))));
        break;      // BININT2
      case 0x8a: {  // LONG1: little-endian two's complement of n <= 8 bytes
        const size_t n = byte();
        if (n > 8) fail("integer wider than 64 bits");
        uint64_t v = n == 0 ? 0 : uint_le(n);
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~uint64_t{0} << (8 * n);  // sign
        push(integer(static_cast<int64_t>(v)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const char* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(p[i]);
        Value o = make(K::floating);
        std::memcpy(&o->floating, &bits, 8);
        push(o);
        break;
      }
      case 'N':
        push(make(K::none));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        Value o = make(K::boolean);
        o->integer = op == 0x88;
        push(o);
        break;
      }
      case '0':
        pop();
        break;  // POP
      case '2':
        push(top());
        break;     // DUP
      case 'R': {  // REDUCE
        Value args = pop();
        Value callable = pop();
        push(call(expect(callable, K::global, "a global before REDUCE")->text,
                  expect(args, K::tuple, "an argument tuple")->items));
        break;
      }
      case 'b':
        pop();
        break;  // BUILD: instance attributes (a state_dict's _metadata): dropped
      case 'Q':
        push(storage(pop()));
        break;  // BINPERSID
      default:
        fail("unsupported pickle opcode " + std::to_string(op));
    }
  }

  Value text_of(uint64_t n) {
    if (n > size_) fail("truncated pickle");
    return string(std::string(take(n), n));
  }

  // A persistent id ('storage', storage type, record key, location, numel): a flat CPU tensor.
  Value storage(const Value& pid) {
    const auto& a = pid->items;
    if (pid->kind != PickleValue::Kind::tuple || a.size() != 5 || a[0]->text != "storage" ||
        a[1]->kind != PickleValue::Kind::global || a[2]->kind != PickleValue::Kind::string ||
        a[4]->kind != PickleValue::Kind::integer || a[4]->integer < 0)
      fail("unsupported persistent id");
    auto cached = storages_.find(a[2]->text);
    if (cached == storages_.end()) {
      const auto type = std::find_if(std::begin(kStorageTypes), std::end(kStorageTypes),
                                     [&](const auto& t) { return a[1]->text == t.first; });
      if (type == std::end(kStorageTypes)) fail("unsupported storage type " + a[1]->text);
      const std::string record = "data/" + a[2]->text;
      if (!zip_.hasRecord(record)) fail("missing record " + record);
      auto [bytes, nbytes] = zip_.getRecord(record);
      const uint64_t numel = static_cast<uint64_t>(a[4]->integer);
      const uint64_t itemsize = c10::elementSize(type->second);
      if (numel > nbytes / itemsize || numel * itemsize != nbytes)  // checked before allocating
        fail("record " + record + " holds " + std::to_string(nbytes) + " bytes, not " +
             std::to_string(numel) + " * " + std::to_string(itemsize));
      torch::Tensor t = torch::empty({a[4]->integer}, torch::TensorOptions().dtype(type->second));
      if (nbytes > 0) std::memcpy(t.data_ptr(), bytes.get(), nbytes);
      cached = storages_.emplace(a[2]->text, t).first;
    }
    Value o = make(PickleValue::Kind::tensor);
    o->tensor = cached->second;
    return o;
  }

  std::vector<int64_t> int_tuple(const Value& o) {
    if (o->kind != PickleValue::Kind::tuple) fail("expected a tuple of integers");
    std::vector<int64_t> v;
    for (const Value& item : o->items) {
      if (item->kind != PickleValue::Kind::integer) fail("expected a tuple of integers");
      v.push_back(item->integer);
    }
    return v;
  }

  Value call(const std::string& name, const std::vector<Value>& args) {
    if (name == "collections.OrderedDict") {
      if (!args.empty()) fail("OrderedDict with constructor arguments");
      return make(PickleValue::Kind::dict);
    }
    if (name == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (args.size() < 4 || args[0]->kind != PickleValue::Kind::tensor ||
          args[1]->kind != PickleValue::Kind::integer)
        fail("malformed _rebuild_tensor_v2 arguments");
      const std::vector<int64_t> size = int_tuple(args[2]), stride = int_tuple(args[3]);
      if (size.size() != stride.size()) fail("tensor size and stride of different lengths");
      Value o = make(PickleValue::Kind::tensor);
      try {  // as_strided checks that the view stays inside the storage
        o->tensor = args[0]->tensor.as_strided(size, stride, args[1]->integer);
      } catch (const c10::Error& e) {
        fail(std::string("tensor view outside its storage: ") + e.what_without_backtrace());
      }
      return o;
    }
    if (name == "torch.jit._pickle.restore_type_tag" && args.size() == 2) return args[0];
    fail("unsupported global " + name);
  }

  std::string path_;
  caffe2::serialize::PyTorchStreamReader& zip_;
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<std::unique_ptr<PickleValue>> values_;  // every value made, freed in one loop
  std::unordered_map<std::string, torch::Tensor> storages_;
};

/// The zip reader's view of an InputFile (a regular file: no blocking on a FIFO).
class InputFileAdapter : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit InputFileAdapter(const std::string& path) : file_(path) {}
  size_t size() const override { return static_cast<size_t>(file_.size()); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* what) const override {
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(file_.fd(), static_cast<char*>(buf) + done, n - done,
                                  static_cast<off_t>(pos + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;  // the zip reader reports the short read
      done += static_cast<size_t>(got);
    }
    return done;
  }

 private:
  InputFile file_;
};

}  // namespace

TensorMap load_pt(const std::string& path) {
  std::shared_ptr<InputFileAdapter> file;
  try {
    file = std::make_shared<InputFileAdapter>(path);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("torch.save file '" + path + "': " + e.what());
  }
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(file);
  } catch (const c10::Error& e) {
    throw std::runtime_error("torch.save file '" + path +
                             "': not a readable torch.save zip archive (torch >= 1.6 format): " +
                             e.what_without_backtrace());
  }
  if (!zip->hasRecord("data.pkl"))
    throw std::runtime_error("torch.save file '" + path + "': no data.pkl record");
  auto [pickle, size] = zip->getRecord("data.pkl");
  PickleMachine machine(path, *zip, static_cast<const char*>(pickle.get()), size);
  const Value root = machine.run();
  if (root->kind != PickleValue::Kind::dict)
    throw std::runtime_error("torch.save file '" + path + "': holds no dict of name -> tensor");
  TensorMap tensors;
  for (const auto& [key, value] : root->entries) {
    if (key->kind != PickleValue::Kind::string || value->kind != PickleValue::Kind::tensor)
      throw std::runtime_error("torch.save file '" + path +
                               "': an entry is not a name -> tensor pair");
    if (!tensors.emplace(key->text, value->tensor).second)
      throw std::runtime_error("torch.save file '" + path + "': duplicate key '" + key->text + "'");
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

}  // namespace xlstm::io
