// xlstm-bench: each subcommand on a tiny shape with --json; every line of stdout is parsed and its
// numbers checked against the shape that was asked for and against each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "io/json.h"
#include "support/run_binary.h"
#include "training/trainer_support.h"
#include "xlstm/config/yaml.h"
#include "xlstm/xlstm.h"

namespace xlstm {
namespace {

using testing::number;

/// Every line of `text` as JSON (a line that is not JSON fails the test).
std::vector<io::json::Value> json_lines(const std::string& text) {
  std::vector<io::json::Value> values;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    try {
      values.push_back(io::json::parse(line));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: '" << line << "': " << e.what();
    }
  }
  return values;
}

std::string text(const io::json::Value& object, const std::string& key) {
  const auto* value = object.find(key);
  EXPECT_TRUE(value && value->kind == io::json::Value::Kind::string) << "no string '" << key << "'";
  return value ? value->text : "";
}

TEST(XlstmBenchCli, CpuOnATinyShape) {
  if (!testing::binary_built("xlstm-bench")) GTEST_SKIP() << "xlstm-bench is not built";
  const auto run = testing::run_binary(
      "xlstm-bench", "--json cpu --batch 1 --seq 8 --iters 1 --threads 1", "", false);
  ASSERT_EQ(run.exit_code, 0) << run;
  const auto lines = json_lines(run.output);
  std::set<std::string> benches;
  for (const auto& line : lines) {
    benches.insert(text(line, "bench"));
    EXPECT_EQ(text(line, "impl"), "xlstm-cpp");
    EXPECT_EQ(number(line, "batch"), 1);
    EXPECT_EQ(number(line, "seq"), 8);
    EXPECT_EQ(number(line, "threads"), 1);
    const double ms = number(line, "ms");
    EXPECT_GT(ms, 0);
    // tok_s is batch * seq tokens per second of `ms` (printed with 3 decimals: +-0.0005 ms).
    EXPECT_NEAR(number(line, "tok_s"), 8 / ms * 1e3, 8 / ms * 1e3 * 0.6e-3 / ms + 0.1);
    EXPECT_GT(number(line, "peak_rss_mib"), 0);
    EXPECT_NE(text(line, "blas").find('/'), std::string::npos);  // a library file
  }
  EXPECT_EQ(benches, (std::set<std::string>{"forward", "forward_backward", "step"})) << run;
}

TEST(XlstmBenchCli, CpuReportsTheBlasAndRefusesTooManyThreads) {
  if (!testing::binary_built("xlstm-bench")) GTEST_SKIP() << "xlstm-bench is not built";
  const auto run =
      testing::run_binary("xlstm-bench", "cpu --batch 1 --seq 4 --iters 1 --threads 2");
  ASSERT_EQ(run.exit_code, 0) << run;
  EXPECT_TRUE(run.printed("CPU: BLAS /")) << run;
  EXPECT_TRUE(run.printed("2 intra-op threads")) << run;
  const auto huge = testing::run_binary("xlstm-bench", "cpu --threads 100000");
  const int bound = std::max(4 * static_cast<int>(std::thread::hardware_concurrency()), 64);
  EXPECT_NE(huge.exit_code, 0) << huge;
  EXPECT_TRUE(huge.printed("--threads")) << huge;
  EXPECT_TRUE(huge.printed(std::to_string(bound))) << huge;
}

// The mLSTM benchmark's ATen forms on the CPU at a tiny shape (the kernel row needs CUDA).
TEST(XlstmBenchCli, MlstmAtenFormsOnTheCpu) {
  if (!testing::binary_built("xlstm-bench")) GTEST_SKIP() << "xlstm-bench is not built";
  const auto run = testing::run_binary(
      "xlstm-bench", "--json mlstm --device cpu --shape 1,2,16,8,24 --warmup 0 --iters 1", "",
      false);
  ASSERT_EQ(run.exit_code, 0) << run;
  std::set<std::string> impls;
  for (const auto& line : json_lines(run.output)) {
    impls.insert(text(line, "impl"));
    EXPECT_EQ(text(line, "bench"), "mlstm_kernel");
    EXPECT_EQ(number(line, "B"), 1);
    EXPECT_EQ(number(line, "NH"), 2);
    EXPECT_EQ(number(line, "S"), 16);
    EXPECT_EQ(number(line, "DHQK"), 8);
    EXPECT_EQ(number(line, "DHV"), 24);
    EXPECT_GT(number(line, "fwd_ms"), 0);
    EXPECT_GT(number(line, "fwdbwd_ms"), number(line, "fwd_ms") * 0.5);
    EXPECT_GE(number(line, "causal_attention_tflops_fwd"), 0);
    EXPECT_GT(number(line, "peak_gib"), 0);
  }
  EXPECT_EQ(impls, (std::set<std::string>{"xlstm-cpp-aten-chunkwise", "xlstm-cpp-aten-parallel"}))
      << run;
  const auto bad = testing::run_binary("xlstm-bench", "mlstm --device cpu --shape 1,2,16,8");
  EXPECT_NE(bad.exit_code, 0) << bad;
  EXPECT_TRUE(bad.printed("--shape '1,2,16,8'")) << bad;
}

// The LM training-step benchmark on the CPU with the README's LM (the kernels row runs the
// library's defaults there, FusedAdamW falling back to AdamW's step): every row's numbers, the
// parameter count of that model, and a bad variant refused by name.
TEST(XlstmBenchCli, LmTrainingStepOnTheCpu) {
  if (!testing::binary_built("xlstm-bench")) GTEST_SKIP() << "xlstm-bench is not built";
  const std::string config = std::string(XLSTM_SOURCE_DIR) + "/configs/readme_lm.yaml";
  const auto run = testing::run_binary(
      "xlstm-bench",
      "--json lm --device cpu --config " + config +
          " --batch 2 --seq 8 --warmup 0 --iters 1 --variants kernels,fused_loss,torch_adamw",
      "OMP_NUM_THREADS=1 ", false);
  ASSERT_EQ(run.exit_code, 0) << run;
  torch::manual_seed(0);
  xLSTMLMModel model(from_yaml_file<xLSTMLMModelConfig>(config));
  int64_t params = 0;
  for (const auto& [name, p] : model->unique_named_parameters()) params += p.numel();
  std::set<std::string> variants;
  for (const auto& line : json_lines(run.output)) {
    ASSERT_EQ(line.find("error"), nullptr) << text(line, "error");
    variants.insert(text(line, "variant"));
    EXPECT_EQ(text(line, "bench"), "lm125m_train_step");
    EXPECT_EQ(number(line, "B"), 2);
    EXPECT_EQ(number(line, "S"), 8);
    EXPECT_EQ(number(line, "params"), params);
    for (const char* key : {"step_ms", "fwd_ms", "opt_ms", "peak_gib"})
      EXPECT_GT(number(line, key), 0) << key;
    // tok_s is printed to 0.1, step_ms to 0.001
    EXPECT_NEAR(number(line, "tok_s"), 16 / (number(line, "step_ms") * 1e-3),
                0.05 + 1e-4 * number(line, "tok_s"));
  }
  EXPECT_EQ(variants, (std::set<std::string>{"kernels", "fused_loss", "torch_adamw"})) << run;
  const auto bad = testing::run_binary("xlstm-bench", "lm --device cpu --variants kernels,foo");
  EXPECT_NE(bad.exit_code, 0) << bad;
  EXPECT_TRUE(bad.printed("foo")) << bad;
}

// The sLSTM benchmark on the CPU with the vanilla backend: the recurrence and the layer, each with
// forward and forward+backward timings at the requested shape.
TEST(XlstmBenchCli, SlstmVanillaOnTheCpu) {
  if (!testing::binary_built("xlstm-bench")) GTEST_SKIP() << "xlstm-bench is not built";
  const auto run = testing::run_binary(
      "xlstm-bench",
      "--json slstm --device cpu --impl vanilla --dtype f32 --batch 2 --seq 8 --embedding-dim 16 "
      "--heads 2 --warmup 0 --slow-iters 1",
      "OMP_NUM_THREADS=1 ", false);
  ASSERT_EQ(run.exit_code, 0) << run;
  const auto lines = json_lines(run.output);
  std::set<std::string> benches;
  for (const auto& line : lines) {
    benches.insert(text(line, "bench"));
    EXPECT_EQ(text(line, "impl"), "xlstm-cpp-vanilla");
    ASSERT_EQ(line.find("error"), nullptr) << text(line, "error");
    EXPECT_EQ(number(line, "B"), 2);
    EXPECT_EQ(number(line, "S"), 8);
    EXPECT_EQ(number(line, "D"), 16);
    EXPECT_EQ(number(line, "H"), 2);
    EXPECT_EQ(text(line, "dtype"), "f32");
    for (const std::string part : {"fwd", "fwdbwd"}) {
      const double ms = number(line, part + "_ms");
      EXPECT_GT(ms, 0) << part;
      EXPECT_NEAR(number(line, part + "_tok_s"), 16 / ms * 1e3, 16 / ms * 1e3 * 0.6e-4 / ms + 0.1)
          << part;
    }
  }
  EXPECT_EQ(benches.size(), 2u) << run;  // the recurrence and the layer
}

}  // namespace
}  // namespace xlstm
