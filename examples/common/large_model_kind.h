// The xLSTM-Large family (xlstm_large/) in the binaries: the kind `large` (an official config.yaml,
// recognised by keys only xLSTMLargeConfig has) and checkpoint directories (--model-dir: a
// Hugging Face or official download as it is, xlstm_large/from_pretrained.h).
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "model_kinds.h"
#include "xlstm/xlstm_large/from_pretrained.h"

namespace xlstm::apps {

/// The kind `large`; `--kind auto` tries it before the xLSTM kinds (whose LM files also have
/// vocab_size and embedding_dim).
ModelKind large_model_kind();

/// An xLSTMLarge as an AppModel (token ids in, logits out).
std::unique_ptr<AppModel> large_app_model(large::xLSTMLarge model);

/// load_pretrained(dir) on `device` in `dtype`, its notes (format, files, ignored config keys,
/// peak host memory) on stderr under `program`'s name.
large::PretrainedModel load_model_dir(const std::string& program, const std::string& dir,
                                      const torch::Device& device, torch::ScalarType dtype);

}  // namespace xlstm::apps
