#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "io/temp_dir.h"
#include "training/trainer_support.h"
#include "xlstm/training/checkpoint.h"
#include "xlstm/training/trainer.h"

namespace xlstm {
namespace {

using io::testing::TempDir;
using testing::number;
using testing::quiet_options;
using testing::read_metrics;
using testing::tiny_parity;

TEST(Trainer, TinyParityLossDecreasesAndMetricsParse) {
  TempDir dir;
  Trainer trainer(tiny_parity(120), quiet_options(dir.path().string(), 10));
  const auto summary = trainer.train();
  EXPECT_EQ(summary.steps, 120);
  const auto lines = read_metrics(dir.file("metrics.jsonl"));
  ASSERT_EQ(lines.size(), 12u);
  EXPECT_EQ(number(lines.front(), "step"), 10);
  EXPECT_EQ(number(lines.back(), "step"), 120);
  const double first = number(lines.front(), "loss"), last = number(lines.back(), "loss");
  EXPECT_LT(last, 0.8 * first) << "loss went from " << first << " to " << last;
  // The last line carries the final validation: its accuracy counted here from the trained
  // model's logits (argmax == target over the target positions), and its loss.
  const auto data = make_experiment_data(trainer.config().dataset, 16);
  trainer.model()->module().eval();
  torch::NoGradGuard no_grad;
  int64_t correct = 0, total = 0;
  for (const auto& batch : data.validation.at(0).batches) {
    const auto mask = batch.targets.ne(kIgnoreIndex);
    const auto hits = trainer.model()->forward(batch.inputs).argmax(-1).eq(batch.targets);
    correct += hits.logical_and(mask).sum().item<int64_t>();
    total += mask.sum().item<int64_t>();
  }
  ASSERT_EQ(total, 64);  // count.validation: one answer per sequence
  EXPECT_DOUBLE_EQ(number(lines.back(), "validation/accuracy"), double(correct) / total);
  EXPECT_DOUBLE_EQ(summary.validation.at(0).accuracy, double(correct) / total);
  EXPECT_NEAR(number(lines.back(), "validation/loss"), summary.validation.at(0).loss, 1e-9);
  EXPECT_TRUE(std::filesystem::exists(dir.file("summary.json")));
  EXPECT_TRUE(latest_checkpoint(dir.file("checkpoints")).has_value());  // the final checkpoint
}

TEST(Trainer, AnyLanguageModelOnAnyDataTrainsLikeTheExperiment) {
  // The caller builds the model (as the experiment constructor does) and the data: the same run.
  const auto config = tiny_parity(6);
  const auto expected = Trainer(config, quiet_options("", 2)).train();
  torch::manual_seed(static_cast<uint64_t>(config.training.seed));
  xLSTMLMModel lm(config.model);
  lm->reset_parameters();
  Trainer trainer(config, std::make_shared<ModuleLanguageModel<xLSTMLMModel>>(lm),
                  make_experiment_data(config.dataset, config.training.batch_size),
                  quiet_options("", 2));
  const auto summary = trainer.train();
  EXPECT_EQ(summary.steps, 6);
  EXPECT_DOUBLE_EQ(summary.loss, expected.loss);
  ASSERT_EQ(summary.validation.size(), 1u);
  EXPECT_DOUBLE_EQ(summary.validation[0].loss, expected.validation.at(0).loss);
  EXPECT_EQ(trainer.model()->parameters()[0].data_ptr(), lm->parameters()[0].data_ptr());
}

TEST(Trainer, ResumedRunContinuesLikeAnUninterruptedOne) {
  // Dropout makes the resumed run depend on the restored torch RNG state too.
  TempDir full, split;
  Trainer(tiny_parity(8, 0.1), quiet_options(full.path().string(), 1)).train();
  Trainer(tiny_parity(4, 0.1), quiet_options(split.path().string(), 1)).train();
  auto resume = quiet_options(split.path().string(), 1);
  resume.resume = true;
  const auto summary = Trainer(tiny_parity(8, 0.1), resume).train();
  EXPECT_EQ(summary.first_step, 4);
  EXPECT_EQ(summary.steps, 8);

  const auto expected = read_metrics(full.file("metrics.jsonl"));
  const auto resumed = read_metrics(split.file("metrics.jsonl"));
  ASSERT_EQ(expected.size(), 8u);
  ASSERT_EQ(resumed.size(), 8u);  // 4 lines before the checkpoint, 4 after
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(number(resumed[i], "step"), number(expected[i], "step"));
    EXPECT_NEAR(number(resumed[i], "loss"), number(expected[i], "loss"), 1e-6) << "step " << i + 1;
    EXPECT_DOUBLE_EQ(number(resumed[i], "lr"), number(expected[i], "lr")) << "step " << i + 1;
  }
}

TEST(Trainer, TruncatedCheckpointIsRefused) {
  TempDir dir;
  Trainer(tiny_parity(2), quiet_options(dir.path().string(), 1)).train();
  const auto checkpoint = latest_checkpoint(dir.file("checkpoints"));
  ASSERT_TRUE(checkpoint);
  const auto weights = std::filesystem::path(*checkpoint) / "model.safetensors";
  std::filesystem::resize_file(weights, std::filesystem::file_size(weights) - 7);

  auto options = quiet_options(dir.path().string(), 1);
  options.resume = true;
  Trainer trainer(tiny_parity(4), options);
  try {
    trainer.train();
    FAIL() << "a truncated checkpoint was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(Trainer, ChangedCheckpointIsRefused) {
  TempDir dir;
  Trainer(tiny_parity(2), quiet_options(dir.path().string(), 1)).train();
  const auto optimizer =
      std::filesystem::path(*latest_checkpoint(dir.file("checkpoints"))) / "optimizer.pt";
  std::string bytes = io::testing::read_bytes(optimizer.string());
  bytes[bytes.size() / 2] ^= 0x55;  // same size, one byte changed
  io::testing::write_bytes(optimizer.string(), bytes);
  auto options = quiet_options(dir.path().string(), 1);
  options.resume = true;
  Trainer trainer(tiny_parity(4), options);
  try {
    trainer.train();
    FAIL() << "a changed checkpoint was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.pt' does not match the hash"),
              std::string::npos)
        << e.what();
  }
}

TEST(Trainer, ResumeUsesTheManifestAndDropsLeftovers) {
  // A crash after a step directory was written but before latest.json named it leaves a directory
  // that no manifest names: the resume ignores it and the next checkpoint removes it.
  TempDir dir;
  Trainer(tiny_parity(2), quiet_options(dir.path().string(), 1)).train();
  const auto leftover = dir.path() / "checkpoints" / "step_00000009";
  std::filesystem::create_directories(leftover);
  io::testing::write_bytes((leftover / "model.safetensors").string(), "garbage");
  auto options = quiet_options(dir.path().string(), 1);
  options.resume = true;
  const auto summary = Trainer(tiny_parity(3), options).train();
  EXPECT_EQ(summary.first_step, 2);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "checkpoints" / "step_00000003"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "checkpoints" / "step_00000002"));
}

TEST(Trainer, ExistingCheckpointNeedsResume) {
  TempDir dir;
  Trainer(tiny_parity(1), quiet_options(dir.path().string(), 1)).train();
  Trainer again(tiny_parity(2), quiet_options(dir.path().string(), 1));
  EXPECT_THROW(again.train(), CheckpointError);
}

/// The global L2 norm of the model's gradients.
double gradient_norm(LanguageModel& model) {
  double squares = 0;
  for (const auto& p : model.parameters())
    if (p.grad().defined()) squares += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(squares);
}

// After a step the gradients it used are still on the parameters: with grad_clip their global
// norm is exactly the clip value, without it (or with a larger clip) the unclipped norm.
TEST(Trainer, GradClipScalesTheGradientsToTheClipNorm) {
  const auto config = tiny_parity(1);
  const auto one_step = [&](double clip) {
    auto options = quiet_options("", 1);
    options.grad_clip = clip;
    Trainer trainer(config, options);
    const auto summary = trainer.train();
    EXPECT_EQ(summary.steps, 1);
    EXPECT_EQ(summary.validation.at(0).split, "validation");
    return gradient_norm(*trainer.model());
  };
  const double unclipped = one_step(0.0);
  ASSERT_GT(unclipped, 0.02);
  EXPECT_NEAR(one_step(0.01), 0.01, 1e-6);
  EXPECT_NEAR(one_step(10 * unclipped), unclipped, 1e-6 * unclipped);  // a large clip: no-op
}

}  // namespace
}  // namespace xlstm
