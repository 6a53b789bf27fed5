// Checkpoints made by transformers 5.17 and by the official package (scripts/
// make_reference_large.py): loaded from their directories as saved, our logits equal theirs for a
// forward pass and for prefill + step, and greedy decoding gives their tokens. Broken
// directories are refused with the file and the tensor named.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "io/temp_dir.h"
#include "support/tensor_compare.h"
#include "support/tolerance.h"
#include "xlstm/generation/generate.h"
#include "xlstm/io/safetensors.h"
#include "xlstm/xlstm_large/from_pretrained.h"

namespace xlstm::large {
namespace {

namespace fs = std::filesystem;
using io::testing::TempDir;

std::string data_dir(const std::string& name) {
  return std::string(XLSTM_TEST_DATA_DIR) + "/large/" + name;
}

struct Reference {
  torch::Tensor ids, forward, step, greedy;
  int64_t prefill = 0;
};

Reference reference_of(const std::string& name) {
  const auto file = io::read_safetensors(data_dir(name) + "/reference.safetensors");
  Reference r;
  const auto get = [&](const char* key) {
    const auto found = file.tensors.find(key);
    return found == file.tensors.end() ? torch::Tensor() : found->second;
  };
  r.ids = get("input_ids");
  r.forward = get("logits_forward");
  r.step = get("logits_step");
  r.greedy = get("greedy_ids");
  if (file.metadata.count("prefill")) r.prefill = std::stoll(file.metadata.at("prefill"));
  return r;
}

/// Logits of a prefill of `prefill` tokens, then one token per step() (the state carried).
torch::Tensor prefill_then_step(xLSTMLarge& model, const torch::Tensor& ids, int64_t prefill) {
  auto [logits, state] = model->forward_with_state(ids.narrow(1, 0, prefill));
  std::vector<torch::Tensor> parts = {logits};
  for (int64_t t = prefill; t < ids.size(1); ++t) {
    auto [step_logits, next] = model->step(ids.narrow(1, t, 1), state);
    parts.push_back(step_logits);
    state = std::move(next);
  }
  return torch::cat(parts, 1);
}

std::vector<std::vector<int64_t>> rows_of(const torch::Tensor& ids) {
  std::vector<std::vector<int64_t>> rows;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    const auto row = ids[b].contiguous();
    rows.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
  }
  return rows;
}

class PretrainedParity : public ::testing::TestWithParam<std::string> {};

TEST_P(PretrainedParity, LogitsAndGreedyTokensEqualThePythonOnes) {
  const auto loaded = load_pretrained(data_dir(GetParam()));
  auto model = loaded.model;
  const Reference ref = reference_of(GetParam());
  ASSERT_TRUE(ref.ids.defined() && ref.forward.defined());
  torch::NoGradGuard no_grad;
  // The bound: 1e-4 relative to the largest logit (float32 both sides; measured ~1e-6).
  EXPECT_LT(test::max_rel_diff(model->forward(ref.ids), ref.forward), 1e-4);
  if (!ref.step.defined()) return;  // hf_odd: transformers cannot step that shape itself
  EXPECT_LT(test::max_rel_diff(prefill_then_step(model, ref.ids, ref.prefill), ref.step), 1e-4);

  generation::GenerationOptions options;
  options.max_new_tokens = ref.greedy.size(1);
  options.sampling.temperature = 0.0;
  const auto result =
      generation::generate(model, rows_of(ref.ids.narrow(1, 0, ref.prefill)), options);
  for (int64_t b = 0; b < ref.greedy.size(0); ++b)
    EXPECT_EQ(result.sequences[b].tokens, rows_of(ref.greedy)[b]) << "row " << b;
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, PretrainedParity,
                         ::testing::Values("hf_tiny", "hf_odd", "official_tiny", "official_odd"));

TEST(Pretrained, ReadsEachFormatsOwnFilesAndConventions) {
  const auto hf = load_pretrained(data_dir("hf_tiny"));
  EXPECT_EQ(hf.format, CheckpointFormat::huggingface);
  EXPECT_EQ(hf.weight_files.size(), 8u);  // the eight shards of the index
  EXPECT_EQ(hf.eos_token_id, 0);
  EXPECT_EQ(hf.model->config.ffn_proj_factor, 1.3);
  EXPECT_EQ(hf.model->config.mode, "inference");
  // transformers' bookkeeping is not model configuration.
  for (const char* key : {"architectures", "transformers_version", "use_cache", "dtype"})
    EXPECT_NE(std::find(hf.ignored_keys.begin(), hf.ignored_keys.end(), key), hf.ignored_keys.end())
        << key;
  const auto official = load_pretrained(data_dir("official_tiny"));
  EXPECT_EQ(official.format, CheckpointFormat::official);
  EXPECT_EQ(official.weight_files.size(), 2u);  // model_0, model_1
  EXPECT_GT(official.peak_host_bytes, 0);
  // Embedding 96, qk_dim_factor 0.5: int() gives 48 (transformers' config property says 64).
  const auto odd = load_pretrained(data_dir("official_odd"));
  EXPECT_EQ(odd.model->backbone->blocks->children().size(), 1u);
  EXPECT_EQ(odd.model->config.qk_dim(), 48);
}

TEST(Pretrained, FusedWeightModeGivesTheSameLogits) {
  PretrainedOptions fused;
  fused.weight_mode = "fused";
  auto single = load_pretrained(data_dir("hf_tiny")).model;
  auto model = load_pretrained(data_dir("hf_tiny"), fused).model;
  const auto names = model->named_parameters().keys();
  EXPECT_NE(
      std::find(names.begin(), names.end(), "backbone.blocks.1.mlstm_layer.qkv_opreact.weight"),
      names.end());
  const Reference ref = reference_of("hf_tiny");
  torch::NoGradGuard no_grad;
  // The fused q / k / v / gate product sums its 128 terms in another order than the four single
  // ones (the BLAS picks its kernel by the matrix shape: 1.5e-6, 13 roundings, on an AMD EPYC
  // with OpenBLAS), and the two blocks carry that on: 32 float32 roundings of the logits' scale.
  EXPECT_TRUE(test::close_at_precision(model->forward(ref.ids), single->forward(ref.ids),
                                       torch::kFloat, 32));
}

TEST(Pretrained, LoadsInTheRequestedDtype) {
  PretrainedOptions options;
  options.dtype = torch::kFloat64;
  auto model = load_pretrained(data_dir("official_tiny"), options).model;
  EXPECT_EQ(model->lm_head->weight.scalar_type(), torch::kFloat64);
  const Reference ref = reference_of("official_tiny");
  torch::NoGradGuard no_grad;
  EXPECT_LT(test::max_rel_diff(model->forward(ref.ids), ref.forward), 1e-5);
}

/// A copy of the reference directory `name` in a temporary directory, to break.
struct BrokenCopy {
  TempDir dir;
  explicit BrokenCopy(const std::string& name) {
    for (const auto& entry : fs::directory_iterator(data_dir(name)))
      fs::copy_file(entry.path(), dir.path() / entry.path().filename());
  }
  std::string path() const { return dir.path().string(); }
};

void expect_refused(const std::string& dir, const std::vector<std::string>& words) {
  try {
    load_pretrained(dir);
    ADD_FAILURE() << "loaded " << dir;
  } catch (const std::exception& e) {
    for (const auto& word : words)
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos)
          << "'" << word << "' not in: " << e.what();
  }
}

TEST(Pretrained, AMissingShardIsNamed) {
  BrokenCopy copy("hf_tiny");
  fs::remove(copy.dir.path() / "model-00003-of-00008.safetensors");
  expect_refused(copy.path(), {"model-00003-of-00008.safetensors", "index.json"});
}

TEST(Pretrained, AMismatchedTensorIsNamedWithItsShardAndBothShapes) {
  BrokenCopy copy("official_tiny");
  const std::string shard = copy.dir.file("model_0.safetensors");
  auto tensors = io::load_safetensors(shard);
  tensors["embedding.weight"] = torch::zeros({512, 63});
  io::save_safetensors(shard, tensors);
  expect_refused(copy.path(), {"embedding.weight", "model_0.safetensors", "63", "64"});
}

TEST(Pretrained, UnknownAndMissingTensorsAreNamed) {
  BrokenCopy copy("official_tiny");
  const std::string shard = copy.dir.file("model_1.safetensors");
  auto tensors = io::load_safetensors(shard);
  tensors.erase("lm_head.weight");
  tensors["lm_head.bias"] = torch::zeros({512});
  io::save_safetensors(shard, tensors);
  expect_refused(copy.path(), {"'lm_head.weight'", "none of the weight files", "'lm_head.bias'",
                               "model_1.safetensors", "not a parameter"});
}

TEST(Pretrained, ATensorInTwoShardsIsNamed) {
  BrokenCopy copy("official_tiny");
  auto first = io::load_safetensors(copy.dir.file("model_0.safetensors"));
  auto second = io::load_safetensors(copy.dir.file("model_1.safetensors"));
  second.insert(*first.begin());
  io::save_safetensors(copy.dir.file("model_1.safetensors"), second);
  expect_refused(copy.path(), {first.begin()->first, "model_0.safetensors", "model_1.safetensors"});
}

TEST(Pretrained, AnIndexThatLiesIsNamed) {
  BrokenCopy copy("hf_tiny");
  const std::string index = copy.dir.file("model.safetensors.index.json");
  std::ifstream in(index);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // Point lm_head.weight at another shard than its own.
  const std::string key = "\"lm_head.weight\": \"";
  const auto at = text.find(key);
  ASSERT_NE(at, std::string::npos) << text;
  const auto begin = at + key.size();
  const auto shard = text.substr(begin, text.find('"', begin) - begin);
  const std::string other = shard == "model-00001-of-00008.safetensors"
                                ? "model-00002-of-00008.safetensors"
                                : "model-00001-of-00008.safetensors";
  text.replace(begin, shard.size(), other);
  std::ofstream(index) << text;
  expect_refused(copy.path(), {"lm_head.weight", other});
}

TEST(Pretrained, ConfigErrorsNameTheKeyAndTheFile) {
  BrokenCopy copy("hf_tiny");
  const std::string config = copy.dir.file("config.json");
  std::ifstream in(config);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const auto at = text.find("\"num_heads\": 2");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 14, "\"num_heads\": \"two\"");
  std::ofstream(config) << text;
  expect_refused(copy.path(), {"num_heads", "config.json", "expected an integer"});
  text.replace(text.find("\"two\""), 5, "3");
  std::ofstream(config) << text;
  expect_refused(copy.path(), {"num_heads", "does not divide"});
}

TEST(Pretrained, ADirectoryWithoutAConfigIsRefused) {
  TempDir empty;
  expect_refused(empty.path().string(), {"config.json", "config.yaml"});
  expect_refused(data_dir("no_such_directory"),
                 {"no_such_directory", "not a checkpoint directory"});
}

}  // namespace
}  // namespace xlstm::large
