// The hook through which model code maps checkpoints written in another layout or under other names
// (another backend's parameter layout, another library's parameter names) onto its own state_dict.
// io knows file formats only: a module that needs a mapping implements CheckpointAdapter, and
// load_state_dict applies the adapters of every module in the tree before it matches names.
#pragma once

#include <string>

#include <torch/torch.h>

#include "xlstm/io/safetensors.h"

namespace xlstm::io {

class CheckpointAdapter {
 public:
  virtual ~CheckpointAdapter() = default;
  /// Rewrites, in place, the entries of `checkpoint` that belong to this module (their names start
  /// with `prefix`: "" for the root module, else the module's dotted name and a '.') into the names
  /// and layouts of the module's own state_dict. Entries it does not recognise are left alone (the
  /// name and shape checks of load_state_dict report them).
  virtual void adapt_checkpoint(TensorMap& checkpoint, const std::string& prefix) const = 0;
};

/// `checkpoint` after the adapters of `module` and of each of its submodules (the root first, then
/// depth-first in registration order).
TensorMap adapt_checkpoint(const torch::nn::Module& module, const TensorMap& checkpoint);

}  // namespace xlstm::io
