// Numbers a run cannot use are refused by name before it starts (NaN / infinite lr, weight_decay,
// initial_val, --grad-clip), and a batch without target positions is named as such instead of
// being reported as divergence.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "training/trainer_support.h"
#include "xlstm/config/error.h"
#include "xlstm/training/trainer.h"

namespace xlstm {
namespace {

using testing::quiet_options;
using testing::tiny_parity;
using testing::tiny_parity_yaml;

/// The ConfigError's "key: message" for the tiny parity config with `from` replaced by `to`.
std::string config_error(const std::string& from, const std::string& to) {
  std::string yaml = tiny_parity_yaml(4);
  const auto at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  yaml.replace(at, from.size(), to);
  try {
    from_yaml_string<ExperimentConfig>(yaml, "tiny");
    return "";
  } catch (const ConfigError& e) {
    return e.key_path() + ": " + e.message();
  }
}

TEST(NonFiniteInputs, ConfigNumbersMustBeFinite) {
  EXPECT_EQ(config_error("lr: 0.01", "lr: .nan"),
            "training.lr: must be a finite number > 0, got nan");
  EXPECT_EQ(config_error("lr: 0.01", "lr: .inf"),
            "training.lr: must be a finite number > 0, got inf");
  EXPECT_EQ(config_error("weight_decay: 0.1", "weight_decay: .inf"),
            "training.weight_decay: must be a finite number >= 0, got inf");
  EXPECT_EQ(config_error("weight_decay: 0.1", "weight_decay: .nan"),
            "training.weight_decay: must be a finite number >= 0, got nan");
  EXPECT_EQ(config_error("num_heads: 1\n", "num_heads: 1\n      initial_val: .nan\n"),
            "model.slstm_block.slstm.initial_val: must be finite, got nan");
}

TEST(NonFiniteInputs, GradClipMustBeFinite) {
  for (double clip : {std::nan(""), std::numeric_limits<double>::infinity(), -1.0}) {
    auto options = quiet_options("", 1);
    options.grad_clip = clip;
    try {
      Trainer trainer(tiny_parity(1), options);
      FAIL() << "grad_clip " << clip << " was taken";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("grad_clip (--grad-clip) must be a finite number >= 0"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(NonFiniteInputs, BatchWithoutTargetsIsNamedNotDivergence) {
  const auto config = tiny_parity(8);
  auto data = make_experiment_data(config.dataset, config.training.batch_size);
  // Every step trains on one validation batch; the third one (examples 32..47) has no target.
  const Batch base = data.validation.at(0).batches.at(0);
  data.train = TrainStream(
      [base](int64_t first, int64_t size) {
        Batch batch{base.inputs.narrow(0, 0, size).clone(),
                    base.targets.narrow(0, 0, size).clone()};
        if (first == 32) batch.targets.fill_(kIgnoreIndex);
        return batch;
      },
      0, config.training.batch_size);
  torch::manual_seed(7);
  xLSTMLMModel lm(config.model);
  Trainer trainer(config, std::make_shared<ModuleLanguageModel<xLSTMLMModel>>(lm), std::move(data),
                  quiet_options("", 4));
  try {
    trainer.train();
    FAIL() << "the empty batch went unnoticed";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("training batch without target positions: 1 of the 4 steps up to step "
                           "4 had a batch whose targets are all -1"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("diverged"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace xlstm
