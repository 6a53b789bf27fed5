// The kinds of the xLSTM family of the official package (xlstm_block_stack.py, xlstm_lm_model.py):
//   stack       an xLSTMBlockStackConfig file (float [B, S, D] in and out), the fallback of auto;
//   lm          an xLSTMLMModelConfig file, recognised by its `vocab_size` (tokens in, logits out);
//   experiment  an experiment file (`training`, `model`, `dataset`), recognised by its `model`;
//               its model is the LM model.
#pragma once

#include <vector>

#include "model_kinds.h"

namespace xlstm::apps {

/// In the order `--kind auto` tries them: experiment, lm, stack.
std::vector<ModelKind> xlstm_model_kinds();

}  // namespace xlstm::apps
