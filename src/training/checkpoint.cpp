#include "xlstm/training/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <sstream>
#include <variant>
#include <vector>

#include "../io/atomic_file.h"
#include "../io/file_tree.h"
#include "../io/input_file.h"
#include "../io/json.h"
#include "../io/json_writer.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/io/state_dict.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

const char* const kManifest = "latest.json";
const char* const kStepManifest = "manifest.json";  // each step directory's own copy
const char* const kFormat = "xlstm-train checkpoint 1";
const std::vector<std::string> kFiles = {"model.safetensors", "optimizer.pt", "state.safetensors"};
constexpr uint64_t kMaxManifestBytes = 1 << 20;

std::string read_bytes(const std::string& path,
                       uint64_t max_bytes = std::numeric_limits<uint64_t>::max()) {
  try {
    return io::InputFile(path).read_all(max_bytes);
  } catch (const std::runtime_error& e) {
    throw CheckpointError("checkpoint file '" + path + "' cannot be read: " + e.what());
  }
}

/// FNV-1a, 64 bits, as 16 hex digits: detects a file that was changed after it was recorded.
std::string fnv1a64(const std::string& bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char byte : bytes) hash = (hash ^ byte) * 1099511628211ull;
  std::ostringstream text;
  text << std::hex << std::setw(16) << std::setfill('0') << hash;
  return text.str();
}

std::string step_name(int64_t step) {
  std::ostringstream name;
  name << "step_" << std::setw(8) << std::setfill('0') << step;
  return name.str();
}

void fsync_directory(const fs::path& dir) {
  std::FILE* handle = std::fopen(dir.c_str(), "r");
  if (!handle) return;
  ::fsync(fileno(handle));
  std::fclose(handle);
}

at::Generator cuda_generator() {
  return at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, 0));
}

int64_t metadata_int(const io::Metadata& metadata, const std::string& key,
                     const std::string& file) {
  const auto found = metadata.find(key);
  if (found == metadata.end())
    throw CheckpointError("checkpoint file '" + file + "' has no '" + key + "' in its metadata");
  return std::stoll(found->second);
}

/// The manifest at `path`, or what is wrong with it ("no manifest.json", "... is not valid JSON").
std::variant<io::json::Value, std::string> read_manifest(const fs::path& path) {
  const std::string name = path.filename().string();
  if (!fs::exists(fs::symlink_status(path))) return "no " + name;
  try {
    return io::json::parse(read_bytes(path.string(), kMaxManifestBytes));
  } catch (const std::runtime_error& e) {
    return name + " cannot be used (" + e.what() + ")";
  }
}

/// What is wrong with the checkpoint in `step_dir` measured against `manifest` (read from
/// `manifest_path`), or nullopt when every file has the size and hash it records.
std::optional<std::string> checkpoint_problem(const fs::path& step_dir,
                                              const io::json::Value& manifest,
                                              const std::string& manifest_path) {
  const auto* files = manifest.find("files");
  for (const auto& file : kFiles) {
    const std::string path = (step_dir / file).string();
    const auto* entry = files ? files->find(file) : nullptr;
    const auto* size = entry ? entry->find("bytes") : nullptr;
    const auto* hash = entry ? entry->find("fnv1a64") : nullptr;
    if (!size || !hash || !size->as_uint64())
      return "checkpoint manifest '" + manifest_path + "' does not describe " + file;
    if (!fs::exists(path)) return "checkpoint file '" + path + "' is missing";
    std::string bytes;
    try {
      bytes = read_bytes(path);
    } catch (const CheckpointError& e) {
      return e.what();
    }
    if (bytes.size() != *size->as_uint64())
      return "checkpoint file '" + path + "' has " + std::to_string(bytes.size()) +
             " bytes, its manifest records " + size->text + " (truncated or overwritten)";
    if (fnv1a64(bytes) != hash->text)
      return "checkpoint file '" + path + "' does not match the hash in its manifest (corrupt)";
  }
  return std::nullopt;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : "; ") + part;
  return text;
}

/// Writes the files of a checkpoint and its manifest.json into `temp_dir`; returns the manifest.
std::string write_checkpoint_files(const fs::path& temp_dir, const std::string& name,
                                   const torch::nn::Module& model,
                                   torch::optim::Optimizer& optimizer, const TrainingState& state) {
  io::save_weights((temp_dir / "model.safetensors").string(), model);
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream optimizer_bytes;
  archive.save_to(optimizer_bytes);
  io::write_file_atomically((temp_dir / "optimizer.pt").string(), optimizer_bytes.str());
  io::TensorMap rng{{"cpu_rng_state", state.cpu_rng_state}};
  if (state.cuda_rng_state.defined()) rng["cuda_rng_state"] = state.cuda_rng_state;
  io::save_safetensors((temp_dir / "state.safetensors").string(), rng,
                       {{"format", kFormat},
                        {"step", std::to_string(state.step)},
                        {"data_position", std::to_string(state.data_position)}});

  // The manifest records what is on disk now; loading checks the files against it.
  io::json::ObjectWriter files;
  for (const std::string& file : kFiles) {
    const std::string bytes = read_bytes((temp_dir / file).string());
    files.object(file, io::json::ObjectWriter()
                           .integer("bytes", static_cast<int64_t>(bytes.size()))
                           .string("fnv1a64", fnv1a64(bytes)));
  }
  const std::string manifest = io::json::ObjectWriter()
                                   .string("format", kFormat)
                                   .string("checkpoint", name)
                                   .integer("step", state.step)
                                   .object("files", files)
                                   .text() +
                               "\n";
  io::write_file_atomically((temp_dir / kStepManifest).string(), manifest);
  return manifest;
}

/// Makes room for `final_dir`: a directory without a manifest (an older version's interrupted
/// write) is removed, a complete one is kept under another name.
void set_aside(const fs::path& final_dir) {
  if (!fs::exists(fs::symlink_status(final_dir))) return;
  if (!fs::exists(final_dir / kStepManifest)) return io::remove_tree(final_dir.string());
  fs::rename(final_dir, final_dir.string() + ".replaced-" + std::to_string(::getpid()));
}

}  // namespace

void TrainingState::capture_rng(bool with_cuda) {
  auto cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu_rng_state = cpu.get_state();
  }
  cuda_rng_state = torch::Tensor();
  if (with_cuda) {
    auto cuda = cuda_generator();
    std::lock_guard<std::mutex> lock(cuda.mutex());
    cuda_rng_state = cuda.get_state();
  }
}

void TrainingState::restore_rng() const {
  if (cpu_rng_state.defined()) {
    auto cpu = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(cpu_rng_state);
  }
  if (cuda_rng_state.defined()) {
    auto cuda = cuda_generator();
    std::lock_guard<std::mutex> lock(cuda.mutex());
    cuda.set_state(cuda_rng_state);
  }
}

std::string save_checkpoint(const std::string& dir, const torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, const TrainingState& state) {
  fs::create_directories(dir);
  const std::string name = step_name(state.step);
  const fs::path final_dir = fs::path(dir) / name;
  const fs::path temp_dir = fs::path(dir) / (name + ".tmp." + std::to_string(::getpid()));
  io::remove_tree(temp_dir.string());
  fs::create_directories(temp_dir);
  std::string manifest;
  try {
    manifest = write_checkpoint_files(temp_dir, name, model, optimizer, state);
  } catch (...) {
    io::remove_tree(temp_dir.string());  // a full disk leaves nothing half written behind
    throw;
  }
  fsync_directory(temp_dir);
  set_aside(final_dir);
  fs::rename(temp_dir, final_dir);
  fsync_directory(dir);
  io::write_file_atomically((fs::path(dir) / kManifest).string(), manifest);
  fsync_directory(dir);
  return final_dir.string();
}

int64_t checkpoint_step(const std::string& name) {
  if (name.rfind("step_", 0) != 0 || name.size() == 5 || name.size() > 5 + 18) return -1;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stoll(name.substr(5));
}

std::vector<std::string> checkpoint_directories(const std::string& dir) {
  std::vector<std::string> names;
  if (!fs::is_directory(dir)) return names;
  for (const auto& name : io::subdirectories(dir))
    if (checkpoint_step(name) >= 0) names.push_back(name);
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return checkpoint_step(a) < checkpoint_step(b);
  });
  return names;
}

void remove_interrupted_writes(const std::string& dir, int64_t after_step) {
  for (const auto& name : io::subdirectories(dir)) {
    const bool temporary = name.rfind("step_", 0) == 0 && name.find(".tmp.") != std::string::npos;
    const bool unfinished =
        checkpoint_step(name) > after_step && !fs::exists(fs::path(dir) / name / kStepManifest);
    if (temporary || unfinished) io::remove_tree((fs::path(dir) / name).string());
  }
}

std::optional<std::string> latest_checkpoint(const std::string& dir) {
  const fs::path manifest_path = fs::path(dir) / kManifest;
  if (!fs::exists(manifest_path)) return std::nullopt;
  io::json::Value manifest;
  try {
    manifest = io::json::parse(read_bytes(manifest_path.string(), kMaxManifestBytes));
  } catch (const std::runtime_error& e) {
    throw CheckpointError("checkpoint manifest '" + manifest_path.string() +
                          "' is not valid JSON: " + e.what());
  }
  const auto* name = manifest.find("checkpoint");
  if (!name || name->kind != io::json::Value::Kind::string || checkpoint_step(name->text) < 0)
    throw CheckpointError("checkpoint manifest '" + manifest_path.string() +
                          "' names no checkpoint directory");
  return (fs::path(dir) / name->text).string();
}

std::optional<ResumePoint> find_resume_point(const std::string& dir) {
  const fs::path latest_path = fs::path(dir) / kManifest;
  std::string latest_problem;
  auto latest = read_manifest(latest_path);
  if (const auto* manifest = std::get_if<io::json::Value>(&latest)) {
    const auto* name = manifest->find("checkpoint");
    if (name && name->kind == io::json::Value::Kind::string && checkpoint_step(name->text) >= 0 &&
        fs::is_directory(fs::path(dir) / name->text)) {
      ResumePoint point{(fs::path(dir) / name->text).string(), ""};
      if (const auto problem = checkpoint_problem(point.step_dir, *manifest, latest_path.string()))
        throw CheckpointError(*problem + ": refusing to resume from it");
      return point;
    }
    latest_problem = name && name->kind == io::json::Value::Kind::string
                         ? "latest.json names " + name->text + ", which is not there"
                         : "latest.json names no checkpoint directory";
  } else {
    latest_problem = std::get<std::string>(latest);
  }

  const auto names = checkpoint_directories(dir);
  if (names.empty()) {
    if (!fs::exists(fs::symlink_status(latest_path))) return std::nullopt;
    throw CheckpointError("cannot resume from '" + dir + "': " + latest_problem +
                          " and there is no step directory");
  }
  std::vector<std::string> skipped;
  for (auto name = names.rbegin(); name != names.rend(); ++name) {
    const fs::path step_dir = fs::path(dir) / *name;
    const std::string manifest_path = (step_dir / kStepManifest).string();
    auto manifest = read_manifest(manifest_path);
    if (const auto* why = std::get_if<std::string>(&manifest)) {
      skipped.push_back(*name + ": " + *why +
                        " (an older version's checkpoint or an interrupted "
                        "write)");
      continue;
    }
    const auto& value = std::get<io::json::Value>(manifest);
    if (const auto problem = checkpoint_problem(step_dir, value, manifest_path)) {
      skipped.push_back(*name + ": " + *problem);
      continue;
    }
    std::string note = latest_problem + ": resuming from the newest intact step directory " +
                       *name + " (verified by its manifest.json)";
    if (!skipped.empty()) note += "; not intact: " + joined(skipped);
    return ResumePoint{step_dir.string(), note};
  }
  throw CheckpointError("cannot resume from '" + dir + "': " + latest_problem +
                        " and no step directory is intact: " + joined(skipped));
}

TrainingState load_checkpoint(const ResumePoint& point, torch::nn::Module& model,
                              torch::optim::Optimizer& optimizer, const torch::Device& device) {
  const std::string weights = (fs::path(point.step_dir) / "model.safetensors").string();
  try {
    io::load_weights(weights, model, /*strict=*/true);
  } catch (const std::exception& e) {
    throw CheckpointError("checkpoint weights '" + weights + "' do not fit the model: " + e.what());
  }
  const std::string optimizer_path = (fs::path(point.step_dir) / "optimizer.pt").string();
  try {
    std::istringstream bytes(read_bytes(optimizer_path));
    torch::serialize::InputArchive archive;
    archive.load_from(bytes, device);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw CheckpointError("checkpoint optimizer state '" + optimizer_path +
                          "' cannot be loaded: " + e.what_without_backtrace());
  }

  const std::string state_path = (fs::path(point.step_dir) / "state.safetensors").string();
  const auto contents = io::read_safetensors(state_path);
  TrainingState state;
  state.step = metadata_int(contents.metadata, "step", state_path);
  state.data_position = metadata_int(contents.metadata, "data_position", state_path);
  const auto cpu = contents.tensors.find("cpu_rng_state");
  if (cpu != contents.tensors.end()) state.cpu_rng_state = cpu->second;
  const auto cuda = contents.tensors.find("cuda_rng_state");
  if (cuda != contents.tensors.end()) state.cuda_rng_state = cuda->second;
  return state;
}

TrainingState load_checkpoint(const std::string& dir, torch::nn::Module& model,
                              torch::optim::Optimizer& optimizer, const torch::Device& device) {
  const auto point = find_resume_point(dir);
  if (!point) throw CheckpointError("no checkpoint in '" + dir + "' (no " + kManifest + ")");
  return load_checkpoint(*point, model, optimizer, device);
}

}  // namespace xlstm
