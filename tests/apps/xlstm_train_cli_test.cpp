// xlstm-train as a binary on its documented flags (--steps, --out, --set, --log-every,
// --checkpoint-every, --resume, --grad-clip, --eval-only --weights, --threads), on the tiny parity
// experiment of the trainer tests: what it writes and prints, checked against runs computed
// another way (an uninterrupted run, the run's own validation).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/temp_dir.h"
#include "support/fixtures.h"
#include "support/run_binary.h"
#include "training/trainer_support.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/training/checkpoint.h"

namespace xlstm {
namespace {

using io::testing::TempDir;
using testing::BinaryRun;
using testing::number;
using testing::read_metrics;

/// A temporary directory with the tiny parity experiment in it; runs of xlstm-train on it.
class TinyParityRuns {
 public:
  TinyParityRuns() { std::ofstream(config()) << testing::tiny_parity_yaml(1000); }
  std::string config() const { return tmp_.file("tiny_parity.yaml"); }
  std::string out(const std::string& name) const { return tmp_.file(name); }
  BinaryRun train(const std::string& arguments) const {
    return testing::run_binary("xlstm-train", "--config " + config() + " " + arguments,
                               "OMP_NUM_THREADS=1 ");
  }
  std::vector<double> losses(const std::string& name) const {
    std::vector<double> values;
    for (const auto& line : read_metrics(out(name) + "/metrics.jsonl"))
      values.push_back(number(line, "loss"));
    return values;
  }
  io::TensorMap final_weights(const std::string& name) const {
    const auto checkpoint = latest_checkpoint(out(name) + "/checkpoints");
    EXPECT_TRUE(checkpoint) << name << " left no checkpoint";
    return checkpoint ? io::load_safetensors(*checkpoint + "/model.safetensors") : io::TensorMap{};
  }

 private:
  TempDir tmp_;
};

// --steps, --log-every, --set and --out: the metrics lines at the logged steps, the resolved
// config with the override, the summary, the final checkpoint, and the CPU report line.
TEST(XlstmTrainCli, StepsLogEverySetAndOut) {
  if (!testing::binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TinyParityRuns runs;
  const auto run =
      runs.train("--steps 6 --log-every 2 --set training.batch_size=8 --out " + runs.out("a"));
  ASSERT_EQ(run.exit_code, 0) << run;
  const auto lines = read_metrics(runs.out("a") + "/metrics.jsonl");
  ASSERT_EQ(lines.size(), 3u) << run;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(number(lines[i], "step"), 2.0 * (i + 1));
  const auto headers = read_metrics(runs.out("a") + "/metrics.jsonl", /*headers=*/true);
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(number(*headers[0].find("run"), "batch_size"), 8);
  const std::string resolved = testing::read_text(runs.out("a") + "/config.yaml");
  EXPECT_NE(resolved.find("batch_size: 8"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("num_steps: 6"), std::string::npos) << resolved;
  EXPECT_TRUE(std::filesystem::exists(runs.out("a") + "/summary.json"));
  EXPECT_TRUE(run.printed("done: step 6 (6 this run)")) << run;
  EXPECT_TRUE(run.printed("CPU: BLAS ")) << run;
  EXPECT_TRUE(run.printed("1 intra-op threads")) << run;  // OMP_NUM_THREADS=1
  const auto checkpoint = latest_checkpoint(runs.out("a") + "/checkpoints");
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(std::filesystem::path(*checkpoint).filename(), "step_00000006");
}

// --checkpoint-every 2 checkpoints after steps 2 and 4 and at the end (5); a run stopped after 3
// steps and continued with --resume to 6 logs the losses of an uninterrupted 6-step run and ends
// with its weights.
TEST(XlstmTrainCli, CheckpointEveryAndResume) {
  if (!testing::binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TinyParityRuns runs;
  const auto every =
      runs.train("--steps 5 --log-every 1 --checkpoint-every 2 --out " + runs.out("every"));
  ASSERT_EQ(every.exit_code, 0) << every;
  for (const std::string step : {"step_00000002", "step_00000004", "step_00000005"})
    EXPECT_TRUE(every.printed("checkpoint " + runs.out("every") + "/checkpoints/" + step))
        << step << "\n"
        << every;
  EXPECT_FALSE(every.printed("step_00000003")) << every;

  ASSERT_EQ(runs.train("--steps 6 --log-every 1 --out " + runs.out("full")).exit_code, 0);
  ASSERT_EQ(runs.train("--steps 3 --log-every 1 --out " + runs.out("split")).exit_code, 0);
  const auto resumed = runs.train("--steps 6 --log-every 1 --resume --out " + runs.out("split"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed;
  EXPECT_TRUE(resumed.printed("at step 3")) << resumed;
  EXPECT_TRUE(resumed.printed("done: step 6 (3 this run)")) << resumed;
  const auto expected = runs.losses("full"), got = runs.losses("split");
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 1e-6 * std::abs(expected[i])) << "step " << i + 1;
  const auto full = runs.final_weights("full"), split = runs.final_weights("split");
  ASSERT_EQ(full.size(), split.size());
  for (const auto& [name, tensor] : full)
    EXPECT_TRUE(torch::allclose(split.at(name), tensor, 1e-5, 1e-7)) << name;
}

// --grad-clip: the first step runs at lr 0 (warmup), the second moves the weights. AdamW's update
// is about lr * g / (|g| + 1e-8): with the gradients clipped to a norm of 1e-12 it is ~1e-4 of the
// unclipped one (weight decay off, so nothing else moves them).
TEST(XlstmTrainCli, GradClipShrinksTheUpdate) {
  if (!testing::binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TinyParityRuns runs;
  const std::string common = "--set training.weight_decay=0 --log-every 1 ";
  ASSERT_EQ(runs.train(common + "--steps 1 --out " + runs.out("start")).exit_code, 0);
  ASSERT_EQ(runs.train(common + "--steps 2 --out " + runs.out("unclipped")).exit_code, 0);
  const auto clipped = runs.train(common + "--steps 2 --grad-clip 1e-12 --out " + runs.out("clip"));
  ASSERT_EQ(clipped.exit_code, 0) << clipped;
  const auto start = runs.final_weights("start"), unclipped = runs.final_weights("unclipped"),
             clip = runs.final_weights("clip");
  double unclipped_move = 0, clip_move = 0;
  for (const auto& [name, tensor] : start) {
    unclipped_move =
        std::max(unclipped_move, (unclipped.at(name) - tensor).abs().max().item<double>());
    clip_move = std::max(clip_move, (clip.at(name) - tensor).abs().max().item<double>());
  }
  EXPECT_GT(unclipped_move, 1e-3);
  EXPECT_LT(clip_move, 1e-3 * unclipped_move)
      << "clipped " << clip_move << " vs unclipped " << unclipped_move;
}

// --eval-only --weights validates the final checkpoint of a run: the loss and accuracy that the
// run itself logged for its final validation.
TEST(XlstmTrainCli, EvalOnlyReproducesTheFinalValidation) {
  if (!testing::binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TinyParityRuns runs;
  ASSERT_EQ(runs.train("--steps 20 --log-every 20 --out " + runs.out("a")).exit_code, 0);
  const auto last = read_metrics(runs.out("a") + "/metrics.jsonl").back();
  const auto weights = *latest_checkpoint(runs.out("a") + "/checkpoints") + "/model.safetensors";
  const auto run = runs.train("--eval-only --weights " + weights);
  ASSERT_EQ(run.exit_code, 0) << run;
  char expected[128];
  std::snprintf(expected, sizeof expected, "validation: loss %.4f  accuracy %.4f",
                number(last, "validation/loss"), number(last, "validation/accuracy"));
  EXPECT_TRUE(run.printed(std::string("validation of ") + weights)) << run;
  EXPECT_TRUE(run.printed(expected)) << expected << "\n" << run;
}

// --threads N sets LibTorch's intra-op threads (the report line says so); a value beyond
// max(4 x cores, 64) is refused before anything runs, naming the bound.
TEST(XlstmTrainCli, ThreadsOption) {
  if (!testing::binary_built("xlstm-train")) GTEST_SKIP() << "xlstm-train is not built";
  TinyParityRuns runs;
  const auto two = runs.train("--steps 1 --threads 2");
  ASSERT_EQ(two.exit_code, 0) << two;
  EXPECT_TRUE(two.printed("2 intra-op threads")) << two;
  const auto huge = runs.train("--steps 1 --threads 100000");
  EXPECT_NE(huge.exit_code, 0) << huge;
  const int bound = std::max(4 * static_cast<int>(std::thread::hardware_concurrency()), 64);
  EXPECT_TRUE(huge.printed("--threads")) << huge;
  EXPECT_TRUE(huge.printed(std::to_string(bound))) << huge;
  EXPECT_FALSE(huge.printed("training 1 steps")) << huge;
}

}  // namespace
}  // namespace xlstm
