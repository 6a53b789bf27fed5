// Loading xLSTM-Large checkpoints (Python: xlstm_large/from_pretrained.py and transformers'
// xLSTMForCausalLM.from_pretrained) from a directory as it was downloaded:
//   Hugging Face: config.json, model.safetensors or model-0000N-of-0000M.safetensors with
//                 model.safetensors.index.json, transformers' parameter names;
//   official:     config.yaml, model.safetensors or model_0.safetensors, model_1.safetensors, ...
// The weights are memory-mapped and copied straight into parameters created on the target device
// and dtype, one shard at a time (no host copy of the model; the mapping of a shard is released
// before the next is mapped).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "xlstm/config/xlstm_large.h"
#include "xlstm/xlstm_large/model.h"

namespace xlstm::large {

enum class CheckpointFormat { huggingface, official };

/// "huggingface" or "official".
std::string format_name(CheckpointFormat format);

/// The format of the checkpoint directory `dir`: config.json -> Hugging Face, config.yaml ->
/// official. Neither (or `dir` not a directory) throws, naming what was looked for.
CheckpointFormat detect_format(const std::string& dir);

/// A transformers config.json as an xLSTMLargeConfig: its keys (hidden_size or embedding_dim,
/// num_hidden_layers or num_blocks, ...), the transformers xLSTMConfig defaults for absent ones.
/// Keys that are transformers' own bookkeeping or unknown are listed in `ignored` (when given).
/// Errors are ConfigErrors naming the key and the file.
xLSTMLargeConfig read_hf_config(const std::string& path,
                                std::vector<std::string>* ignored = nullptr);

struct PretrainedOptions {
  torch::Device device = torch::kCPU;
  /// Parameter dtype; default float32 on the CPU, bfloat16 on CUDA.
  std::optional<torch::ScalarType> dtype;
  /// The model's weight mode ("single" or "fused": one projection matrix for q, k, v, o and one
  /// for the feedforward's two up-projections, faster to decode); the checkpoints are single.
  std::string weight_mode = "single";
  /// The backend mode, as the official from_pretrained's default.
  std::string mode = "inference";
};

struct PretrainedModel {
  xLSTMLarge model{nullptr};
  CheckpointFormat format = CheckpointFormat::official;
  std::vector<std::string> weight_files;  ///< in the order read
  std::vector<std::string> ignored_keys;  ///< of config.json (see read_hf_config)
  std::optional<int64_t> eos_token_id;    ///< config.json's, when it has one
  int64_t peak_host_bytes = 0;            ///< the process's peak resident memory after loading
};

/// The model of the checkpoint directory `dir`, its weights loaded. Every problem throws an error
/// that names the file: a missing shard, a tensor the model does not have or lacks, a shape that
/// does not match (with both shapes), a tensor in two shards, an index that names a tensor its
/// shard does not hold.
PretrainedModel load_pretrained(const std::string& dir, const PretrainedOptions& options = {});

}  // namespace xlstm::large
