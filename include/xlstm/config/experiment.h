// The kind of a config file (block stack, LM model or experiment), as xlstm-config detects it.
#pragma once

#include <string>

#include "xlstm/training/experiment_config.h"  // ExperimentConfig, the experiment files' struct

namespace xlstm {

/// What a config file holds, as `xlstm-config --kind auto` decides it: an experiment when it has a
/// `model` section, an LM model when it has `vocab_size`, else a block stack.
enum class ConfigFileKind { BlockStack, LMModel, Experiment };
ConfigFileKind detect_config_file_kind(const std::string& path);

}  // namespace xlstm
