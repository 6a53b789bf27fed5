#include "xlstm/xlstm_large/from_pretrained.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "../io/json.h"
#include "xlstm/config/error.h"
#include "xlstm/config/yaml.h"
#include "xlstm/io/checkpoint_adapter.h"
#include "xlstm/io/output_path.h"
#include "xlstm/io/read_file.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/io/state_dict.h"

namespace xlstm::large {
namespace {

namespace json = io::json;

constexpr uint64_t kMaxJsonBytes = 64ull << 20;

bool is_file(const std::string& path) {
  struct stat s {};
  return ::stat(path.c_str(), &s) == 0 && S_ISREG(s.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat s {};
  return ::stat(path.c_str(), &s) == 0 && S_ISDIR(s.st_mode);
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

json::Value parse_json_file(const std::string& path) {
  const std::string text = io::read_regular_file(path, kMaxJsonBytes);
  try {
    return json::parse(text);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
}

// ---- config.json ------------------------------------------------------------------------------

/// Reads JSON values into config fields, naming the key and the file in every error.
class JsonFields {
 public:
  JsonFields(const json::Value& root, std::string path) : root_(root), path_(std::move(path)) {}

  const json::Value* find(const std::string& key) {
    used_.insert(key);
    return root_.find(key);
  }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw ConfigError(key, message, path_);
  }

  void read(const std::string& key, int& field) {
    const json::Value* v = find(key);
    if (!v) return;
    if (v->kind != json::Value::Kind::number) fail(key, "expected an integer, got " + shown(*v));
    char* end = nullptr;
    const long long value = std::strtoll(v->text.c_str(), &end, 10);
    if (*end != '\0' || value < INT32_MIN || value > INT32_MAX)
      fail(key, "expected an integer that fits in 32 bits, got " + v->text);
    field = static_cast<int>(value);
  }
  void read(const std::string& key, double& field) {
    const json::Value* v = find(key);
    if (!v) return;
    if (v->kind != json::Value::Kind::number) fail(key, "expected a number, got " + shown(*v));
    field = std::strtod(v->text.c_str(), nullptr);
  }
  void read(const std::string& key, std::optional<double>& field) {
    const json::Value* v = root_.find(key);
    if (v && v->kind == json::Value::Kind::null) {
      used_.insert(key);
      field.reset();
      return;
    }
    double value = field.value_or(0.0);
    const bool present = v != nullptr;
    read(key, value);
    if (present) field = value;
  }
  void read(const std::string& key, bool& field) {
    const json::Value* v = find(key);
    if (!v) return;
    if (v->kind != json::Value::Kind::boolean)
      fail(key, "expected true or false, got " + shown(*v));
    field = v->boolean;
  }
  void read(const std::string& key, std::string& field) {
    const json::Value* v = find(key);
    if (!v) return;
    if (v->kind != json::Value::Kind::string) fail(key, "expected a string, got " + shown(*v));
    field = v->text;
  }
  /// A key given under either of two names (transformers keeps both): they must agree.
  void read_either(const std::string& key, const std::string& alias, int& field) {
    int a = -1, b = -1;
    read(key, a);
    read(alias, b);
    if (a >= 0 && b >= 0 && a != b)
      fail(key, "is " + std::to_string(a) + " but " + alias + " is " + std::to_string(b));
    if (a >= 0 || b >= 0) field = a >= 0 ? a : b;
  }

  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [key, value] : root_.members)
      if (!used_.count(key)) out.push_back(key);
    return out;
  }

 private:
  static std::string shown(const json::Value& v) {
    switch (v.kind) {
      case json::Value::Kind::null:
        return "null";
      case json::Value::Kind::boolean:
        return v.boolean ? "true" : "false";
      case json::Value::Kind::number:
        return v.text;
      case json::Value::Kind::string:
        return json::quote(v.text);
      case json::Value::Kind::array:
        return "an array";
      case json::Value::Kind::object:
        return "an object";
    }
    return "?";
  }

  const json::Value& root_;
  std::string path_;
  std::set<std::string> used_;
};

/// transformers' xLSTMConfig defaults (they differ from the official dataclass: the native kernels,
/// mode "inference", return_last_states, ffn_proj_factor 2.667, the 7B sizes).
xLSTMLargeConfig hf_defaults() {
  xLSTMLargeConfig c;
  c.vocab_size = 50304;
  c.embedding_dim = 4096;
  c.num_blocks = 32;
  c.num_heads = 8;
  c.chunkwise_kernel = "chunkwise--native_autograd";
  c.sequence_kernel = "native_sequence__native";
  c.step_kernel = "native";
  c.mode = "inference";
  c.return_last_states = true;
  c.ffn_proj_factor = 2.667;
  return c;
}

// ---- weights ----------------------------------------------------------------------------------

/// The weight files of `dir` in load order, checked against the Hugging Face index when there is
/// one (every shard it names exists and holds the tensors it says).
std::vector<std::string> weight_files(const std::string& dir, CheckpointFormat format) {
  const std::string single = join(dir, "model.safetensors");
  if (format == CheckpointFormat::huggingface) {
    const std::string index_path = join(dir, "model.safetensors.index.json");
    if (!is_file(index_path)) {
      if (is_file(single)) return {single};
      throw std::runtime_error(dir +
                               ": no weights: neither model.safetensors nor "
                               "model.safetensors.index.json is there");
    }
    const json::Value index = parse_json_file(index_path);
    const json::Value* map =
        index.kind == json::Value::Kind::object ? index.find("weight_map") : nullptr;
    if (!map || map->kind != json::Value::Kind::object)
      throw std::runtime_error(index_path + ": has no \"weight_map\" object");
    std::map<std::string, std::set<std::string>> tensors_of;  // shard -> tensors the index names
    for (const auto& [tensor, shard] : map->members) {
      if (shard.kind != json::Value::Kind::string || shard.text.empty() ||
          shard.text.find('/') != std::string::npos)
        throw std::runtime_error(index_path + ": weight_map[\"" + tensor +
                                 "\"] is not a file name in the directory");
      tensors_of[shard.text].insert(tensor);
    }
    std::vector<std::string> files;
    for (const auto& [shard, tensors] : tensors_of) {
      const std::string path = join(dir, shard);
      if (!is_file(path))
        throw std::runtime_error(index_path + " names the shard " + shard + " (for '" +
                                 *tensors.begin() + "' and " + std::to_string(tensors.size() - 1) +
                                 " more), which is not in " + dir);
      const io::MappedSafetensors file(path);
      for (const auto& tensor : tensors)
        if (!file.contains(tensor))
          throw std::runtime_error(index_path + " says shard " + shard + " holds '" + tensor +
                                   "', which it does not");
      for (const auto& tensor : file.names())
        if (!tensors.count(tensor))
          throw std::runtime_error("shard " + path + " holds '" + tensor + "', which " +
                                   index_path + " does not list for it");
      files.push_back(path);
    }
    return files;
  }
  if (is_file(single)) return {single};
  std::vector<std::string> files;
  for (int n = 0; is_file(join(dir, "model_" + std::to_string(n) + ".safetensors")); ++n)
    files.push_back(join(dir, "model_" + std::to_string(n) + ".safetensors"));
  if (files.empty())
    throw std::runtime_error(dir +
                             ": no weights: neither model.safetensors nor "
                             "model_0.safetensors is there");
  return files;
}

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

int64_t peak_resident_bytes() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

/// Loads the tensors of `files` (mapped together) into `model`: what fits is copied; returns the
/// model names loaded and adds each problem, with the file it came from, to `problems`.
std::set<std::string> load_group(xLSTMLargeImpl& model, const std::vector<std::string>& files,
                                 const std::map<std::string, std::string>& file_of_name,
                                 std::vector<std::string>& problems) {
  std::vector<io::MappedSafetensors> mapped;
  io::TensorMap views;
  for (const auto& path : files) {
    mapped.emplace_back(path);
    for (const auto& name : mapped.back().names()) views.emplace(name, mapped.back().view(name));
  }
  const io::TensorMap adapted = io::adapt_checkpoint(model, views);
  const io::LoadReport report = io::load_state_dict(model, adapted, /*strict=*/false);
  const auto origin = [&](const std::string& name) {
    const auto found = file_of_name.find(name);
    return found != file_of_name.end() ? found->second
           : files.size() == 1         ? files.front()
                                       : "the shards";
  };
  for (const auto& name : report.unexpected)
    problems.push_back("'" + name + "' in " + origin(name) + " is not a parameter of the model");
  for (const auto& name : report.mismatched)
    problems.push_back("'" + name + "' in " + origin(name) + ": " + report.details.at(name));
  std::set<std::string> loaded;
  for (const auto& [name, tensor] : adapted)
    if (std::find(report.unexpected.begin(), report.unexpected.end(), name) ==
            report.unexpected.end() &&
        std::find(report.mismatched.begin(), report.mismatched.end(), name) ==
            report.mismatched.end())
      loaded.insert(name);
  return loaded;
}

}  // namespace

/// read_hf_config on the parsed file.
static xLSTMLargeConfig hf_config_from(const json::Value& root, const std::string& path,
                                       std::vector<std::string>* ignored);

std::string format_name(CheckpointFormat format) {
  return format == CheckpointFormat::huggingface ? "huggingface" : "official";
}

CheckpointFormat detect_format(const std::string& dir) {
  if (!is_directory(dir)) throw std::runtime_error(dir + ": not a checkpoint directory");
  const bool hf = is_file(join(dir, "config.json")), official = is_file(join(dir, "config.yaml"));
  if (hf && official)
    throw std::runtime_error(dir +
                             ": holds both config.json (Hugging Face) and config.yaml "
                             "(official): which one is meant is unclear");
  if (!hf && !official)
    throw std::runtime_error(dir +
                             ": neither config.json (Hugging Face) nor config.yaml "
                             "(official) is there");
  return hf ? CheckpointFormat::huggingface : CheckpointFormat::official;
}

xLSTMLargeConfig read_hf_config(const std::string& path, std::vector<std::string>* ignored) {
  return hf_config_from(parse_json_file(path), path, ignored);
}

xLSTMLargeConfig hf_config_from(const json::Value& root, const std::string& path,
                                std::vector<std::string>* ignored) {
  if (root.kind != json::Value::Kind::object)
    throw ConfigError("", "config.json must hold a JSON object", path);
  JsonFields in(root, path);
  std::string model_type = "xlstm";
  in.read("model_type", model_type);
  if (model_type != "xlstm") in.fail("model_type", "is '" + model_type + "', not 'xlstm'");
  bool tied = false;
  in.read("tie_word_embeddings", tied);
  if (tied) in.fail("tie_word_embeddings", "true is not supported (xLSTM-Large has its own head)");
  xLSTMLargeConfig c = hf_defaults();
  in.read("vocab_size", c.vocab_size);
  in.read_either("hidden_size", "embedding_dim", c.embedding_dim);
  in.read_either("num_hidden_layers", "num_blocks", c.num_blocks);
  in.read("num_heads", c.num_heads);
  in.read("use_bias", c.use_bias);
  in.read("norm_eps", c.norm_eps);
  in.read("norm_reduction_force_float32", c.norm_reduction_force_float32);
  in.read("add_out_norm", c.add_out_norm);
  in.read("qk_dim_factor", c.qk_dim_factor);
  in.read("v_dim_factor", c.v_dim_factor);
  in.read("chunkwise_kernel", c.chunkwise_kernel);
  in.read("sequence_kernel", c.sequence_kernel);
  in.read("step_kernel", c.step_kernel);
  in.read("mode", c.mode);
  in.read("chunk_size", c.chunk_size);
  in.read("return_last_states", c.return_last_states);
  in.read("autocast_kernel_dtype", c.autocast_kernel_dtype);
  in.read("eps", c.eps);
  in.read("inference_state_dtype", c.inference_state_dtype);
  in.read("ffn_proj_factor", c.ffn_proj_factor);
  in.read("ffn_round_up_to_multiple_of", c.ffn_round_up_to_multiple_of);
  in.read("gate_soft_cap", c.gate_soft_cap);
  in.read("output_logit_soft_cap", c.output_logit_soft_cap);
  in.read("weight_mode", c.weight_mode);
  try {
    c.finalize();
  } catch (const ConfigError& e) {
    throw e.located(path);
  }
  if (ignored) *ignored = in.unused();
  return c;
}

PretrainedModel load_pretrained(const std::string& dir, const PretrainedOptions& options) {
  PretrainedModel out;
  out.format = detect_format(dir);
  xLSTMLargeConfig config;
  if (out.format == CheckpointFormat::huggingface) {
    const std::string path = join(dir, "config.json");
    const json::Value root = parse_json_file(path);
    config = hf_config_from(root, path, &out.ignored_keys);
    if (const json::Value* eos = root.find("eos_token_id"); eos && eos->as_uint64())
      out.eos_token_id = static_cast<int64_t>(*eos->as_uint64());
  } else {
    config = load_config<xLSTMLargeConfig>(join(dir, "config.yaml"));
  }
  config.weight_mode = options.weight_mode;
  config.mode = options.mode;
  const auto dtype =
      options.dtype.value_or(options.device.is_cuda() ? torch::kBFloat16 : torch::kFloat32);
  out.model = xLSTMLarge(config, torch::TensorOptions().device(options.device).dtype(dtype));
  out.weight_files = weight_files(dir, out.format);
  // No writer of this process may replace what the model came from.
  for (const char* name : {"config.json", "config.yaml", "model.safetensors.index.json"})
    if (is_file(join(dir, name))) io::protect_input(join(dir, name));
  for (const auto& path : out.weight_files) io::protect_input(path);

  std::map<std::string, std::string> file_of_name;  // every checkpoint name -> its file
  std::vector<std::string> problems;
  for (const auto& path : out.weight_files) {
    const io::MappedSafetensors file(path);  // (a temporary's names() would dangle in the loop)
    for (const auto& name : file.names()) {
      const auto [at, inserted] = file_of_name.emplace(name, path);
      if (!inserted) problems.push_back("'" + name + "' is in both " + at->second + " and " + path);
    }
  }
  // A fused model concatenates tensors that may sit in different shards: it maps them together.
  std::vector<std::vector<std::string>> groups;
  if (config.weight_mode == "fused")
    groups.push_back(out.weight_files);
  else
    for (const auto& path : out.weight_files) groups.push_back({path});
  if (problems.empty()) {
    torch::NoGradGuard no_grad;
    std::set<std::string> loaded;
    for (const auto& group : groups)
      for (const auto& name : load_group(*out.model, group, file_of_name, problems))
        loaded.insert(name);
    for (const auto& item : out.model->named_parameters())
      if (!loaded.count(item.key()))
        problems.push_back("'" + item.key() + "' " + shape_of(item.value()) +
                           " of the model is in none of the weight files");
  }
  if (!problems.empty()) {
    std::string message = dir + ": the weights do not fit the model of its config:";
    for (const auto& problem : problems) message += "\n  " + problem;
    throw std::runtime_error(message);
  }
  out.model->eval();
  out.peak_host_bytes = peak_resident_bytes();
  return out;
}

}  // namespace xlstm::large
