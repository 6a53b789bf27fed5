// xlstm-bench lm: one training step of the 125M-like LM as bench_peers.py lm_train runs it (B8
// S2048, float32 weights under bf16 autocast, AdamW lr 1e-3 fused on CUDA, float32 cross entropy):
// ms per step, tokens/s, peak memory (weights included, as torch.cuda.max_memory_allocated after
// reset_peak_memory_stats) and where the time goes (the forward, the backward and the optimizer
// step, each timed alone). Variants: `kernels` (the library's defaults: the mLSTM chunkwise
// kernels where they apply, FusedAdamW), `fused_loss` (the same with the LM head and the cross
// entropy as ops::linear_cross_entropy: no [B S, V] logits in memory), `aten_mlstm`
// (XLSTM_MLSTM_CHUNKWISE_KERNEL=0: the cell's ATen forms) and `torch_adamw` (torch::optim::AdamW,
// one op per tensor). --config takes another
// xLSTMLMModelConfig YAML (the CLI test runs a tiny one on the CPU).
#pragma once

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <xlstm/components/autocast.h>
#include <xlstm/ops/linear_cross_entropy.h>
#include <xlstm/training/fused_adamw.h>
#include <xlstm/training/metrics.h>

#include "lm125m.h"
#include "report.h"

namespace xlstm::bench {

struct LmBenchOptions {
  std::string device = "cuda", config, amp = "bf16";  // config empty: lm125m_config()
  int batch = 8, seq = 2048, warmup = 2, iters = 5;
  std::vector<std::string> variants{"kernels", "fused_loss", "aten_mlstm", "torch_adamw"};
  bool json = false;
};

struct LmStepRow {
  std::string variant, error;
  int64_t params = 0;
  double step_ms = 0, fwd_ms = 0, bwd_ms = 0, opt_ms = 0, peak_gib = 0;
};

inline LmStepRow measure_lm_step(const LmBenchOptions& o, const xLSTMLMModelConfig& config,
                                 const std::string& variant) {
  const torch::Device device(o.device);
  LmStepRow row;
  row.variant = variant;
  std::fprintf(stderr, "[xlstm-bench] lm %s...\n", variant.c_str());
  const bool aten_mlstm = variant == "aten_mlstm";
  if (aten_mlstm) setenv("XLSTM_MLSTM_CHUNKWISE_KERNEL", "0", 1);
  try {
    torch::manual_seed(0);
    xLSTMLMModel model(config);
    model->to(device);
    model->train();
    for (const auto& [name, p] : model->unique_named_parameters()) row.params += p.numel();
    const auto adamw = torch::optim::AdamWOptions(1e-3);
    std::unique_ptr<torch::optim::AdamW> optimizer =
        variant == "torch_adamw" ? std::make_unique<torch::optim::AdamW>(model->parameters(), adamw)
                                 : std::make_unique<FusedAdamW>(model->parameters(), adamw);
    const int64_t vocab = config.vocab_size;
    const auto ids = torch::TensorOptions().device(device).dtype(torch::kLong);
    const torch::Tensor tokens = torch::randint(vocab, {o.batch, o.seq}, ids);
    const torch::Tensor targets = torch::randint(vocab, {o.batch, o.seq}, ids);
    const bool autocast = device.is_cuda() && o.amp != "none";
    const auto amp_dtype = o.amp == "f16" ? torch::kHalf : torch::kBFloat16;
    ops::LinearCrossEntropyOptions fused_loss;
    if (autocast) fused_loss.compute_dtype = amp_dtype;
    const auto loss_of_forward = [&] {
      CudaAutocast region(autocast, amp_dtype);
      if (variant != "fused_loss") return sequence_cross_entropy(model->forward(tokens), targets);
      const torch::Tensor hidden = model->xlstm_block_stack->forward(model->embed(tokens));
      return ops::linear_cross_entropy(hidden, model->lm_head_weight, targets, fused_loss);
    };
    const auto step = [&] {
      loss_of_forward().backward();
      optimizer->step();
      optimizer->zero_grad();
    };
    reset_peak_memory(device);
    row.step_ms = mean_ms(device, o.warmup, o.iters, step);
    row.peak_gib = peak_memory_mib(device) / 1024.0;
    row.fwd_ms = mean_ms(device, 1, o.iters, [&] { loss_of_forward(); });
    const double fwd_bwd_ms = mean_ms(device, 1, o.iters, [&] {
      loss_of_forward().backward();
      optimizer->zero_grad();
    });
    row.bwd_ms = fwd_bwd_ms - row.fwd_ms;
    loss_of_forward().backward();  // gradients for the optimizer alone
    row.opt_ms = mean_ms(device, 1, o.iters, [&] { optimizer->step(); });
  } catch (const std::exception& e) {
    row.error = json_safe_first_line(e.what());
  }
  if (aten_mlstm) unsetenv("XLSTM_MLSTM_CHUNKWISE_KERNEL");
  return row;
}

inline void print_lm_step(const LmBenchOptions& o, const LmStepRow& r) {
  const double tokens = static_cast<double>(o.batch) * o.seq;
  if (o.json) {
    std::printf(
        "{\"bench\":\"lm125m_train_step\",\"impl\":\"xlstm-cpp-cuda\",\"variant\":\"%s\","
        "\"B\":%d,\"S\":%d,\"amp\":\"%s\",\"weights\":\"fp32\"",
        r.variant.c_str(), o.batch, o.seq, o.amp.c_str());
    if (!r.error.empty())
      std::printf(",\"error\":\"%s\"}\n", r.error.c_str());
    else
      std::printf(
          ",\"params\":%lld,\"step_ms\":%.3f,\"tok_s\":%.1f,\"peak_gib\":%.3f,\"fwd_ms\":%.3f,"
          "\"bwd_ms\":%.3f,\"opt_ms\":%.3f}\n",
          static_cast<long long>(r.params), r.step_ms, tokens / (r.step_ms * 1e-3), r.peak_gib,
          r.fwd_ms, r.bwd_ms, r.opt_ms);
  } else if (!r.error.empty()) {
    std::printf("  %-12s error: %s\n", r.variant.c_str(), r.error.c_str());
  } else {
    std::printf(
        "  %-12s step %9.3f ms  (%.0f tok/s)  peak %.2f GiB  forward %.3f, backward %.3f, "
        "optimizer %.3f ms\n",
        r.variant.c_str(), r.step_ms, tokens / (r.step_ms * 1e-3), r.peak_gib, r.fwd_ms, r.bwd_ms,
        r.opt_ms);
  }
  std::fflush(stdout);
}

inline int run_lm(const LmBenchOptions& o) {
  xLSTMLMModelConfig config;
  try {
    config = o.config.empty() ? lm125m_config() : from_yaml_file<xLSTMLMModelConfig>(o.config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xlstm-bench lm: %s\n", e.what());
    return 2;
  }
  if (!o.json)
    std::printf("LM training step B%d S%d, %s autocast, %s\n", o.batch, o.seq, o.amp.c_str(),
                o.device.c_str());
  for (const std::string& variant : o.variants)
    print_lm_step(o, measure_lm_step(o, config, variant));
  return 0;
}

}  // namespace xlstm::bench
