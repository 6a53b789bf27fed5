// State dicts of torch::nn modules: the tensors under their dotted names, saved to and loaded from
// safetensors or torch.save (.pt / .pth) files.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "xlstm/io/safetensors.h"

namespace xlstm::io {

/// Parameters and buffers under the names named_parameters() / named_buffers() give them
/// (a tied parameter appears under each of its names). The tensors are detached and share storage
/// with the module, like Python's state_dict().
TensorMap state_dict(const torch::nn::Module& module);

/// What load_state_dict found. Names are listed in module order (missing) or key order.
struct LoadReport {
  std::vector<std::string> missing;            // in the module, not in the checkpoint
  std::vector<std::string> unexpected;         // in the checkpoint, not in the module
  std::vector<std::string> mismatched;         // in both, but the checkpoint's tensor does not fit
  std::map<std::string, std::string> details;  // per name above: expected / found shape, dtype

  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// One line per offending name with its details; "ok" when there is none.
  std::string summary() const;
};

/// Thrown by a strict load that found a problem; report() lists every offending name.
class StateDictError : public std::runtime_error {
 public:
  explicit StateDictError(LoadReport report);
  const LoadReport& report() const { return report_; }

 private:
  LoadReport report_;
};

/// Copies `tensors` into the module's parameters and buffers in place (no grad; to the target's
/// device). A tensor fits its target when the shapes are equal and either the dtypes are equal or
/// both are floating point (then it is converted, as Python's load_state_dict does). Modules that
/// implement CheckpointAdapter (checkpoint_adapter.h) first map the checkpoint onto their own names
/// and layouts (e.g. parameters saved by another backend). A tied parameter may be given under
/// any or all of its names; several must hold equal values.
/// strict: any missing, unexpected or mismatched entry throws StateDictError before anything is
/// copied. Not strict: what fits is copied and the report tells the rest.
LoadReport load_state_dict(torch::nn::Module& module, const TensorMap& tensors, bool strict = true);

/// Reads the tensors of a `torch.save`d dict of name -> tensor (e.g. a Python state_dict) written
/// in the zip format of torch >= 1.6. Throws std::runtime_error naming the file otherwise.
TensorMap load_pt(const std::string& path);
/// Writes `tensors` as a dict that Python's torch.load reads (atomically, like save_safetensors).
void save_pt(const std::string& path, const TensorMap& tensors);

/// save / load the module's state dict, the format chosen by the extension: `.safetensors`, or
/// `.pt` / `.pth` (torch.save). Any other extension throws.
void save_weights(const std::string& path, const torch::nn::Module& module,
                  const Metadata& metadata = {});
LoadReport load_weights(const std::string& path, torch::nn::Module& module, bool strict = true);
/// The tensors of a weights file (format by extension, as above).
TensorMap read_weights(const std::string& path);
/// The entries whose name starts with `prefix`, with the prefix removed (e.g. "model." of a
/// checkpoint that wraps the model, or "state." of the reference fixtures).
TensorMap strip_prefix(const TensorMap& tensors, const std::string& prefix);

}  // namespace xlstm::io
