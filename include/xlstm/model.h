// Model: an xLSTMBlockStack or an xLSTMLMModel behind one interface, chosen by the config (an LM
// model when it has `vocab_size`). This is what the binaries and the fixture tests drive.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <torch/torch.h>

#include "xlstm/config/overrides.h"
#include "xlstm/xlstm_block_stack.h"
#include "xlstm/xlstm_lm_model.h"

namespace xlstm {

class Model {
 public:
  explicit Model(const xLSTMBlockStackConfig& config);
  explicit Model(const xLSTMLMModelConfig& config);
  /// Loads a model config YAML: an LM model when it has a top-level `vocab_size`, else a stack
  /// (an experiment file: its `model`), with `overrides` applied first
  /// (`slstm_block.slstm.backend=cuda`).
  static Model from_yaml_file(const std::string& path,
                              const std::vector<ConfigOverride>& overrides = {});

  bool is_lm() const { return !lm_.is_empty(); }
  torch::nn::Module& module();
  const xLSTMBlockStackConfig& config() const;

  /// Stack: float [B, S, D] -> [B, S, D]; LM: int64 [B, S] -> logits [B, S, V].
  torch::Tensor forward(const torch::Tensor& input);
  std::pair<torch::Tensor, xLSTMBlockStackState> forward_with_state(
      const torch::Tensor& input, const xLSTMBlockStackState& state = {});
  std::pair<torch::Tensor, xLSTMBlockStackState> step(const torch::Tensor& input,
                                                      const xLSTMBlockStackState& state = {});
  /// step() over every position from the zero state, outputs concatenated on the sequence axis.
  torch::Tensor step_sequence(const torch::Tensor& input);

 private:
  xLSTMBlockStack stack_{nullptr};
  xLSTMLMModel lm_{nullptr};
};

}  // namespace xlstm
