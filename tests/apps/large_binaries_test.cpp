// The binaries on xLSTM-Large checkpoint directories as saved by transformers and by the official
// package (tests/data/large): xlstm-run's logits equal the Python references, xlstm-generate's
// greedy ids equal theirs, text goes through the directory's tokenizer.json, xlstm-config resolves
// an official config.yaml; a directory that is not a checkpoint is refused by name.
#include <gtest/gtest.h>

#include "apps/binaries.h"
#include "io/temp_dir.h"
#include "support/tensor_compare.h"
#include "xlstm/io/safetensors.h"

namespace xlstm {
namespace {

using io::testing::TempDir;
using testing::binary_built;
using testing::binary_path;
using testing::run_command;

std::string model_dir(const std::string& name) {
  return std::string(XLSTM_TEST_DATA_DIR) + "/large/" + name;
}

io::TensorMap reference(const std::string& name) {
  return io::load_safetensors(model_dir(name) + "/reference.safetensors");
}

TEST(LargeBinaries, RunGivesThePythonLogitsForwardAndStepwise) {
  if (!binary_built("xlstm-run")) GTEST_SKIP() << "xlstm-run is not built";
  TempDir dir;
  for (const std::string name : {"hf_tiny", "official_tiny"}) {
    const auto ref = reference(name);
    io::save_safetensors(dir.file("in.safetensors"), {{"input", ref.at("input_ids")}});
    for (const std::string mode : {"forward", "step"}) {
      const auto run = run_command(binary_path("xlstm-run") + " --model-dir " + model_dir(name) +
                                   " --input " + dir.file("in.safetensors") + " --output " +
                                   dir.file("out.safetensors") + " --mode " + mode);
      ASSERT_EQ(run.exit_code, 0) << run;
      EXPECT_TRUE(run.printed(name == "hf_tiny" ? "huggingface checkpoint, 8 weight files"
                                                : "official checkpoint, 2 weight files"))
          << run;
      const auto out = io::load_safetensors(dir.file("out.safetensors")).at("output");
      EXPECT_LT(test::max_rel_diff(out, ref.at("logits_forward")), 1e-4) << name << " " << mode;
    }
  }
}

std::string ids_text(const torch::Tensor& ids) {
  std::string text;
  for (int64_t i = 0; i < ids.numel(); ++i)
    text += (i ? " " : "") + std::to_string(ids[i].item<int64_t>());
  return text;
}

TEST(LargeBinaries, GenerateGreedyIdsEqualThePythonOnes) {
  if (!binary_built("xlstm-generate")) GTEST_SKIP() << "xlstm-generate is not built";
  for (const std::string name : {"hf_tiny", "official_odd"}) {
    const auto ref = reference(name);
    const auto prompt = ref.at("input_ids")[1].narrow(0, 0, 21);
    const auto run = testing::run_shell(binary_path("xlstm-generate") + " --model-dir " +
                                        model_dir(name) + " --prompt-ids '" + ids_text(prompt) +
                                        "' --temperature 0 --max-new-tokens 8 2>/dev/null");
    ASSERT_EQ(run.exit_code, 0) << run;
    EXPECT_EQ(run.output, ids_text(ref.at("greedy_ids")[1]) + "\n") << name;
  }
}

TEST(LargeBinaries, GenerateTextGoesThroughTheTokenizerJson) {
  if (!binary_built("xlstm-generate")) GTEST_SKIP() << "xlstm-generate is not built";
  const auto run =
      run_command(binary_path("xlstm-generate") + " --model-dir " + model_dir("hf_tiny") +
                  " --prompt 'The quick brown fox' --temperature 0 --max-new-tokens 5");
  ASSERT_EQ(run.exit_code, 0) << run;
  EXPECT_TRUE(run.printed("The quick brown fox")) << run;  // the prompt, echoed
  EXPECT_TRUE(run.printed("config.json keys not used:")) << run;
  // official_tiny has no tokenizer.json: text prompts are refused, ids work.
  const auto no_tokenizer = run_command(binary_path("xlstm-generate") + " --model-dir " +
                                        model_dir("official_tiny") + " --prompt hi");
  EXPECT_EQ(no_tokenizer.exit_code, 1) << no_tokenizer;
  EXPECT_TRUE(no_tokenizer.printed("has no tokenizer.json: give token ids with --prompt-ids"))
      << no_tokenizer;
}

TEST(LargeBinaries, ConfigResolvesAnOfficialConfigAndRunRefusesANonCheckpoint) {
  if (!binary_built("xlstm-config") || !binary_built("xlstm-run"))
    GTEST_SKIP() << "xlstm-config or xlstm-run is not built";
  const auto config =
      run_command(binary_path("xlstm-config") + " " + model_dir("official_odd") + "/config.yaml");
  ASSERT_EQ(config.exit_code, 0) << config;
  EXPECT_TRUE(config.printed("embedding_dim: 96")) << config;
  EXPECT_TRUE(config.printed("weight_mode: single")) << config;
  TempDir empty;
  io::save_safetensors(empty.file("in.safetensors"),
                       {{"input", torch::zeros({1, 2}, torch::kLong)}});
  const auto run =
      run_command(binary_path("xlstm-run") + " --model-dir " + empty.path().string() + " --input " +
                  empty.file("in.safetensors") + " --output " + empty.file("out.safetensors"));
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_TRUE(run.printed("neither config.json (Hugging Face) nor config.yaml")) << run;
}

}  // namespace
}  // namespace xlstm
