#include "xlstm/training/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <vector>

#include "../io/atomic_file.h"
#include "../io/file_tree.h"
#include "../io/json.h"
#include "../io/json_writer.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/io/state_dict.h"

namespace fs = std::filesystem;

namespace xlstm {
namespace {

const char* const kManifest = "latest.json";
const char* const kFormat = "xlstm-train checkpoint 1";
const std::vector<std::string> kFiles = {"model.safetensors", "optimizer.pt", "state.safetensors"};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError("checkpoint file '" + path + "' cannot be read");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
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

  fsync_directory(temp_dir);
  io::remove_tree(final_dir.string());  // a leftover of an interrupted run that no manifest names
  fs::rename(temp_dir, final_dir);
  fsync_directory(dir);
  io::write_file_atomically((fs::path(dir) / kManifest).string(), manifest);
  fsync_directory(dir);

  for (const std::string& other : io::subdirectories(dir))
    if (other.rfind("step_", 0) == 0 && other != name)
      io::remove_tree((fs::path(dir) / other).string());
  return final_dir.string();
}

std::optional<std::string> latest_checkpoint(const std::string& dir) {
  const fs::path manifest_path = fs::path(dir) / kManifest;
  if (!fs::exists(manifest_path)) return std::nullopt;
  io::json::Value manifest;
  try {
    manifest = io::json::parse(read_bytes(manifest_path.string()));
  } catch (const std::runtime_error& e) {
    throw CheckpointError("checkpoint manifest '" + manifest_path.string() +
                          "' is not valid JSON: " + e.what());
  }
  const auto* name = manifest.find("checkpoint");
  if (!name || name->kind != io::json::Value::Kind::string || name->text.rfind("step_", 0) != 0 ||
      name->text.find('/') != std::string::npos)
    throw CheckpointError("checkpoint manifest '" + manifest_path.string() +
                          "' names no checkpoint directory");
  return (fs::path(dir) / name->text).string();
}

TrainingState load_checkpoint(const std::string& dir, torch::nn::Module& model,
                              torch::optim::Optimizer& optimizer, const torch::Device& device) {
  const auto checkpoint = latest_checkpoint(dir);
  if (!checkpoint) throw CheckpointError("no checkpoint in '" + dir + "' (no " + kManifest + ")");
  const std::string manifest_path = (fs::path(dir) / kManifest).string();
  const auto manifest = io::json::parse(read_bytes(manifest_path));
  const auto* files = manifest.find("files");
  for (const auto& file : kFiles) {
    const std::string path = (fs::path(*checkpoint) / file).string();
    const auto* entry = files ? files->find(file) : nullptr;
    const auto* size = entry ? entry->find("bytes") : nullptr;
    const auto* hash = entry ? entry->find("fnv1a64") : nullptr;
    if (!size || !hash || !size->as_uint64())
      throw CheckpointError("checkpoint manifest '" + manifest_path + "' does not describe " +
                            file);
    if (!fs::exists(path)) throw CheckpointError("checkpoint file '" + path + "' is missing");
    const std::string bytes = read_bytes(path);
    if (bytes.size() != *size->as_uint64())
      throw CheckpointError("checkpoint file '" + path + "' has " + std::to_string(bytes.size()) +
                            " bytes, its manifest records " + size->text +
                            " (truncated or overwritten): refusing to resume from it");
    if (fnv1a64(bytes) != hash->text)
      throw CheckpointError("checkpoint file '" + path +
                            "' does not match the hash in its manifest (corrupt): refusing to "
                            "resume from it");
  }

  const std::string weights = (fs::path(*checkpoint) / "model.safetensors").string();
  try {
    io::load_weights(weights, model, /*strict=*/true);
  } catch (const std::exception& e) {
    throw CheckpointError("checkpoint weights '" + weights + "' do not fit the model: " + e.what());
  }
  const std::string optimizer_path = (fs::path(*checkpoint) / "optimizer.pt").string();
  try {
    std::istringstream bytes(read_bytes(optimizer_path));
    torch::serialize::InputArchive archive;
    archive.load_from(bytes, device);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw CheckpointError("checkpoint optimizer state '" + optimizer_path +
                          "' cannot be loaded: " + e.what_without_backtrace());
  }

  const std::string state_path = (fs::path(*checkpoint) / "state.safetensors").string();
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

}  // namespace xlstm
