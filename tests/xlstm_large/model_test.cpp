// xLSTM-Large's modules on small random models: the norms and soft-cap against their formulas,
// the paths through the model (one call, continued calls, steps, in-place steps, fused weights)
// against each other, the start-state semantics of the kernel names, and generation.
#include <gtest/gtest.h>

#include "support/tensor_compare.h"
#include "xlstm/config/error.h"
#include "xlstm/generation/generate.h"
#include "xlstm/io/state_dict.h"
#include "xlstm/xlstm_large/model.h"

namespace xlstm::large {
namespace {

xLSTMLargeConfig small_config() {
  xLSTMLargeConfig c;
  c.embedding_dim = 32;
  c.num_heads = 2;
  c.num_blocks = 2;
  c.vocab_size = 50;
  c.chunk_size = 4;
  c.mode = "inference";
  c.return_last_states = true;
  c.qk_dim_factor = 0.5;  // DHqk 8 != DHv 16
  return c;
}

/// A model whose gates are not at their init (where the input gate would dominate nothing).
xLSTMLarge random_model(const xLSTMLargeConfig& config, uint64_t seed = 0) {
  torch::manual_seed(seed);
  xLSTMLarge model(config, torch::TensorOptions().dtype(torch::kFloat64));
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters())
    p.normal_(0.0, p.dim() == 2 ? 1.0 / std::sqrt(p.size(1)) : 1.0);
  return model;
}

torch::Tensor random_ids(const xLSTMLargeConfig& config, int64_t batch, int64_t seq) {
  return torch::randint(config.vocab_size, {batch, seq}, torch::kLong);
}

TEST(LargeComponents, SoftCapRmsNormAndMultiHeadNormFollowTheirFormulas) {
  const auto x = torch::randn({3, 5, 8}, torch::kFloat64) * 4;
  EXPECT_TRUE(torch::allclose(soft_cap(x, 2.0), 2.0 * torch::tanh(x / 2.0)));
  EXPECT_TRUE(torch::equal(soft_cap(x, std::nullopt), x));

  // force_float32_reductions would reduce a float64 input in float32 (as the Python one does).
  RMSNorm rms(
      NormOptions(8).eps(1e-6).force_float32_reductions(false).parameter_options(torch::kFloat64));
  {
    torch::NoGradGuard no_grad;
    rms->weight.uniform_(0.5, 1.5);
  }
  const auto expected = x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-6) * rms->weight;
  EXPECT_LT(test::max_rel_diff(rms(x), expected), 1e-14);

  MultiHeadLayerNorm heads(
      2, 4,
      NormOptions().eps(1e-5).use_bias(true).force_float32_reductions(false).parameter_options(
          torch::kFloat64));
  {
    torch::NoGradGuard no_grad;
    heads->weight.uniform_(0.5, 1.5);
    heads->bias.uniform_(-1, 1);
  }
  const auto per_head = x.view({3, 5, 2, 4});
  const auto normed = torch::layer_norm(per_head, {4}, {}, {}, 1e-5).reshape({3, 5, 8});
  EXPECT_LT(test::max_rel_diff(heads(per_head), normed * heads->weight + heads->bias), 1e-14);
  // A bfloat16 input is reduced in float32, cast back, then scaled by the bfloat16 weight.
  RMSNorm reduced(NormOptions(8).parameter_options(torch::kBFloat16));
  const auto y = reduced(x.to(torch::kBFloat16));
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  const auto x32 = x.to(torch::kBFloat16).to(torch::kFloat32);
  EXPECT_LT(test::max_rel_diff(y, x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + 1e-6)), 1e-2);
}

TEST(LargeModel, ParameterNamesAreTheOfficialOnes) {
  auto config = small_config();
  const auto names = xLSTMLarge(config)->named_parameters().keys();
  const std::vector<std::string> first = {"embedding.weight",
                                          "backbone.blocks.0.norm_mlstm.weight",
                                          "backbone.blocks.0.mlstm_layer.q.weight",
                                          "backbone.blocks.0.mlstm_layer.k.weight",
                                          "backbone.blocks.0.mlstm_layer.v.weight",
                                          "backbone.blocks.0.mlstm_layer.ogate_preact.weight",
                                          "backbone.blocks.0.mlstm_layer.igate_preact.weight",
                                          "backbone.blocks.0.mlstm_layer.igate_preact.bias",
                                          "backbone.blocks.0.mlstm_layer.fgate_preact.weight",
                                          "backbone.blocks.0.mlstm_layer.fgate_preact.bias",
                                          "backbone.blocks.0.mlstm_layer.multihead_norm.weight",
                                          "backbone.blocks.0.mlstm_layer.out_proj.weight",
                                          "backbone.blocks.0.norm_ffn.weight",
                                          "backbone.blocks.0.ffn.proj_up_gate.weight",
                                          "backbone.blocks.0.ffn.proj_up.weight",
                                          "backbone.blocks.0.ffn.proj_down.weight"};
  ASSERT_GE(names.size(), first.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + first.size()), first);
  EXPECT_EQ(names.back(), "lm_head.weight");
  EXPECT_EQ(names[names.size() - 2], "backbone.out_norm.weight");
  // 2.6667 * 32 = 85.3 rounds up to 128 (multiple of 64); q / k int(32 * 0.5) = 16.
  const auto params = xLSTMLarge(config)->named_parameters();
  EXPECT_EQ(params["backbone.blocks.1.ffn.proj_up.weight"].sizes(), c10::IntArrayRef({128, 32}));
  EXPECT_EQ(params["backbone.blocks.1.mlstm_layer.k.weight"].sizes(), c10::IntArrayRef({16, 32}));
}

TEST(LargeModel, ContinuedCallsAndStepsEqualOneCall) {
  const auto config = small_config();
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  const auto ids = random_ids(config, 3, 11);
  const auto whole = model->forward(ids);
  // 6 + 5 positions in two calls (chunks of 4 and remainders on both sides).
  auto [first, state] = model->forward_with_state(ids.narrow(1, 0, 6));
  auto [second, end] = model->forward_with_state(ids.narrow(1, 6, 5), state);
  EXPECT_LT(test::max_rel_diff(torch::cat({first, second}, 1), whole), 1e-12);
  // The head over the last position only (generation's prefill): the same logits and state.
  auto [last, last_end] = model->last_logits_with_state(ids.narrow(1, 6, 5), state);
  EXPECT_EQ(last.sizes(), c10::IntArrayRef({3, 1, config.vocab_size}));
  EXPECT_LT(test::max_rel_diff(last, second.narrow(1, 4, 1)), 1e-12);
  EXPECT_LT(test::max_rel_diff(last_end.blocks.back().C, end.blocks.back().C), 1e-12);
  // One token at a time, functional and in place.
  xLSTMLargeState functional, in_place = model->zero_state(3);
  std::vector<torch::Tensor> stepped, stepped_in_place;
  for (int64_t t = 0; t < 11; ++t) {
    auto [logits, next] = model->step(ids.narrow(1, t, 1), functional);
    stepped.push_back(logits);
    functional = next;
    stepped_in_place.push_back(model->step_in_place(ids.narrow(1, t, 1), in_place));
  }
  EXPECT_LT(test::max_rel_diff(torch::cat(stepped, 1), whole), 1e-12);
  EXPECT_LT(test::max_rel_diff(torch::cat(stepped_in_place, 1), whole), 1e-12);
  for (size_t b = 0; b < end.blocks.size(); ++b) {
    EXPECT_LT(test::max_rel_diff(in_place.blocks[b].C, end.blocks[b].C), 1e-12);
    EXPECT_LT(test::max_abs_diff(in_place.blocks[b].m, end.blocks[b].m), 1e-12);
  }
}

TEST(LargeModel, LastLogitsNameBadIds) {
  auto model = random_model(small_config());
  torch::NoGradGuard no_grad;
  const auto message = [&](const torch::Tensor& ids) {
    try {
      model->last_logits_with_state(ids);
    } catch (const c10::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(torch::zeros({2, 0}, torch::kLong)).find("S > 0, got Long [2, 0]"),
            std::string::npos);
  EXPECT_NE(message(torch::zeros({2, 3})).find("int64 [B, S]"), std::string::npos);
  EXPECT_NE(message(torch::zeros({3}, torch::kLong)).find("[3]"), std::string::npos);
}

TEST(LargeModel, ParallelKernelsStartFromNoStateChunkwiseOnesFromZero) {
  // Without a state, a chunkwise kernel (and mode "inference") starts from C = n = 0, m = 0, a
  // parallel one from no state (m = -inf): with a very negative input gate the stabiliser m
  // differs (log f + 0 vs i). The normaliser max(|q.n|, exp(-m)) is one scalar per head and
  // position, which the multi-head layer norm divides out: the logits agree up to the norms' eps.
  auto chunkwise = small_config();
  chunkwise.mode = "train";
  chunkwise.return_last_states = false;
  chunkwise.chunkwise_kernel = "chunkwise--native_autograd";
  auto parallel = chunkwise;
  parallel.chunkwise_kernel = "parallel--native_autograd";
  EXPECT_TRUE(chunkwise.starts_from_zero_state());
  EXPECT_FALSE(parallel.starts_from_zero_state());
  auto a = random_model(chunkwise), b = random_model(parallel);
  torch::NoGradGuard no_grad;
  for (auto& item : a->named_parameters())
    if (item.key().find("igate_preact.bias") != std::string::npos) item.value().fill_(-30.0);
  io::load_state_dict(*b, io::state_dict(*a));
  const auto ids = random_ids(chunkwise, 2, 3);
  const auto [from_zero, zero_state] = a->forward_with_state(ids);
  const auto [from_none, none_state] = b->forward_with_state(ids);
  // The soft-capped input gate is near -15: from no state m stays near it, from zero m is the sum
  // of three log forget gates, far above.
  EXPECT_GT((zero_state.blocks[0].m - none_state.blocks[0].m).min().item<double>(), 1.0);
  EXPECT_LT(test::max_rel_diff(from_none, from_zero), 1e-4);
}

TEST(LargeModel, FusedWeightsTakeASingleCheckpointAndComputeTheSame) {
  const auto config = small_config();
  auto single = random_model(config);
  auto fused_config = config;
  fused_config.weight_mode = "fused";
  xLSTMLarge fused(fused_config, torch::TensorOptions().dtype(torch::kFloat64));
  const auto report = io::load_state_dict(*fused, io::state_dict(*single));
  EXPECT_TRUE(report.ok()) << report.summary();
  torch::NoGradGuard no_grad;
  const auto ids = random_ids(config, 2, 7);
  EXPECT_LT(test::max_rel_diff(fused->forward(ids), single->forward(ids)), 1e-12);
}

TEST(LargeModel, TransformersNamesAreAccepted) {
  const auto config = small_config();
  auto source = random_model(config);
  io::TensorMap renamed;
  for (const auto& [name, tensor] : io::state_dict(*source)) {
    std::string hf = name == "embedding.weight" ? "backbone.embeddings.weight" : name;
    const auto at = hf.find(".mlstm_layer.q.");
    if (at != std::string::npos) hf.replace(at, 15, ".mlstm_layer.query.");
    renamed[hf] = tensor;
  }
  auto target = random_model(config, 1);
  const auto report = io::load_state_dict(*target, renamed);
  EXPECT_TRUE(report.ok()) << report.summary();
  torch::NoGradGuard no_grad;
  const auto ids = random_ids(config, 1, 5);
  EXPECT_TRUE(torch::equal(target->forward(ids), source->forward(ids)));
}

TEST(LargeModel, GenerateContinuesLikeGreedyStepping) {
  const auto config = small_config();
  auto model = random_model(config);
  generation::GenerationOptions options;
  options.max_new_tokens = 6;
  options.sampling.temperature = 0.0;
  const std::vector<std::vector<int64_t>> prompts = {{1, 2, 3, 4, 5}, {7, 8}};
  const auto result = generation::generate(model, prompts, options);
  torch::NoGradGuard no_grad;
  for (size_t p = 0; p < prompts.size(); ++p) {
    auto ids = torch::tensor(prompts[p], torch::kLong).unsqueeze(0);
    std::vector<int64_t> expected;
    for (int i = 0; i < 6; ++i) {
      const auto next = model->forward(ids).select(1, ids.size(1) - 1).argmax(-1);
      expected.push_back(next.item<int64_t>());
      ids = torch::cat({ids, next.view({1, 1})}, 1);
    }
    EXPECT_EQ(result.sequences[p].tokens, expected) << "prompt " << p;
  }
}

TEST(LargeConfig, FinalizeNamesTheBadKey) {
  const auto refused = [](auto change, const std::string& key) {
    auto c = small_config();
    change(c);
    try {
      c.finalize();
      ADD_FAILURE() << key << " accepted";
    } catch (const xlstm::ConfigError& e) {
      EXPECT_EQ(e.key_path(), key) << e.what();
    }
  };
  refused([](auto& c) { c.num_heads = 3; }, "num_heads");
  refused([](auto& c) { c.weight_mode = "packed"; }, "weight_mode");
  refused([](auto& c) { c.chunkwise_kernel = "chunkwise--triton_xl_chunk_siging"; },
          "chunkwise_kernel");
  refused([](auto& c) { c.mode = "decode"; }, "mode");
  refused([](auto& c) { c.gate_soft_cap = -1.0; }, "gate_soft_cap");
  refused(
      [](auto& c) {
        c.mode = "train";
        c.chunkwise_kernel = "parallel--native_autograd";
      },
      "return_last_states");
  auto c = small_config();
  c.embedding_dim = 96;
  c.ffn_proj_factor = 1.3;  // 124.8 -> 128
  EXPECT_EQ(c.qk_dim(), 48);
  EXPECT_EQ(c.ffn_dim(), 128);
}

}  // namespace
}  // namespace xlstm::large
