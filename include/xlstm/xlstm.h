// The umbrella header of xlstm-cpp: every config, module and I/O function.
#pragma once

#include "xlstm/blocks/mlstm/block.h"
#include "xlstm/blocks/slstm/block.h"
#include "xlstm/blocks/xlstm_block.h"
#include "xlstm/config/yaml.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/io/state_dict.h"
#include "xlstm/training/experiment_config.h"
#include "xlstm/xlstm_block_stack.h"
#include "xlstm/xlstm_large/from_pretrained.h"
#include "xlstm/xlstm_large/model.h"
#include "xlstm/xlstm_lm_model.h"
