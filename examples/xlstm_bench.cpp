// xlstm-bench: speed benchmarks that print tokens/s, milliseconds and peak memory.
//   xlstm-bench cpu    the README block stack on the CPU: forward, forward+backward, step() loop.
//   xlstm-bench slstm  the sLSTM recurrence alone and the whole sLSTMLayer, per backend (GPU).
//   xlstm-bench generate  the 125M-like LM: ms per step (plain, in place, CUDA graph), prefill, and
//                      the bandwidth bound (GPU).
//   xlstm-bench large  xLSTM-Large at the 7B shape: prefill, time to first token, decode ms per
//                      token (CUDA graph), peak memory and the bandwidth bound (GPU).
//   xlstm-bench mlstm  the mLSTM cell's sequence forms (chunkwise kernels, ATen chunkwise and
//                      parallel) at the 125M and 7B shapes: fwd, fwd+bwd, TFLOP/s, memory (GPU).
//   xlstm-bench lm     one training step of the 125M-like LM (B8 S2048, bf16 autocast, AdamW): ms,
//                      tokens/s, peak memory, forward / backward / optimizer (GPU).
// Compare with the official package in the same run: scripts/bench-cpu.sh (CPU),
// scripts/gpu-check.sh (GPU: with bench_peers.py and the ratios).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <stdexcept>

#include <xlstm/xlstm.h>

#include "bench/generate.h"
#include "bench/large.h"
#include "bench/lm.h"
#include "bench/mlstm.h"
#include "bench/report.h"
#include "bench/slstm.h"
#include "cli_options.h"
#include "error_report.h"
#include "runtime_info.h"

namespace {

using xlstm::bench::mean_ms;

struct Report {
  bool json = false;
  std::string blas;  ///< the BLAS library file (runtime_info.h), in every JSON line
  void operator()(const std::string& bench, double ms, int64_t tokens, int batch, int seq) const {
    const double tok_s = tokens / ms * 1e3, peak = xlstm::bench::peak_rss_mib();
    if (json) {
      std::printf(
          "{\"impl\": \"xlstm-cpp\", \"bench\": \"%s\", \"ms\": %.3f, \"tok_s\": %.1f, "
          "\"batch\": %d, \"seq\": %d, \"threads\": %d, \"peak_rss_mib\": %.1f, "
          "\"blas\": \"%s\"}\n",
          bench.c_str(), ms, tok_s, batch, seq, torch::get_num_threads(), peak, blas.c_str());
    } else {
      std::printf("%-18s %10.2f ms  %12.0f tokens/s  peak RSS %.0f MiB\n", bench.c_str(), ms, tok_s,
                  peak);
    }
    std::fflush(stdout);
  }
};

int run_cpu(const std::string& config_path, int batch, int seq, int iters, int threads,
            Report& report) {
  xlstm::apps::set_cpu_threads(threads);
  report.blas = xlstm::apps::blas_library();
  // The report line goes to stderr with --json, so that stdout stays one JSON object per line.
  (report.json ? std::cerr : std::cout) << xlstm::apps::cpu_runtime_report() << std::endl;
  torch::manual_seed(0);
  auto cfg = xlstm::from_yaml_file<xlstm::xLSTMBlockStackConfig>(config_path);
  if (cfg.slstm_block) cfg.slstm_block->slstm.backend = "vanilla";
  xlstm::xLSTMBlockStack stack(cfg);
  stack->eval();
  const auto x = torch::randn({batch, seq, cfg.embedding_dim});
  const int64_t tokens = int64_t(batch) * seq;
  const torch::Device cpu(torch::kCPU);

  {
    torch::NoGradGuard no_grad;
    report("forward", mean_ms(cpu, 1, iters, [&] { stack->forward(x); }), tokens, batch, seq);
  }
  const auto xg = x.clone().requires_grad_(true);
  report("forward_backward", mean_ms(cpu, 1, iters, [&] { stack->forward(xg).sum().backward(); }),
         tokens, batch, seq);
  torch::NoGradGuard no_grad;
  report("step",
         mean_ms(cpu, 1, 1,
                 [&] {
                   xlstm::xLSTMBlockStackState state;
                   for (int t = 0; t < seq; ++t)
                     state = stack->step(x.narrow(1, t, 1), state).second;
                 }),
         tokens, batch, seq);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlstm-bench: speed of xlstm-cpp (tokens/s, ms, peak memory)"};
  app.require_subcommand(1);
  app.fallthrough();
  Report report;
  app.add_flag("--json", report.json, "print one JSON object per measurement");

  auto* cpu =
      app.add_subcommand("cpu", "README block stack on the CPU: forward, fwd+bwd, step loop");
  std::string config = std::string(XLSTM_SOURCE_DIR) + "/configs/readme_stack.yaml";
  int batch = 4, seq = 256, iters = 3, threads = 0;
  cpu->add_option("--config", config, "block stack YAML")->check(CLI::ExistingFile);
  const auto size = xlstm::apps::whole_number(1, xlstm::apps::kMaxSize);
  cpu->add_option("--batch", batch, "batch size")->check(size);
  cpu->add_option("--seq", seq, "sequence length")->check(size);
  cpu->add_option("--iters", iters, "timed iterations (after one warm-up)")->check(size);
  cpu->add_option("--threads", threads, "intra-op threads (0: OMP_NUM_THREADS, else one per core)")
      ->check(CLI::Range(0, xlstm::apps::max_cpu_threads()));

  auto* slstm = app.add_subcommand(
      "slstm", "sLSTM recurrence and sLSTMLayer per backend: fwd, fwd+bwd (default: GPU, bf16)");
  xlstm::bench::SlstmBenchOptions so;
  slstm->add_option("--batch", so.batch, "batch size")->check(size);
  slstm->add_option("--seq", so.seq, "sequence length")->check(size);
  slstm->add_option("--embedding-dim", so.embedding_dim, "embedding (= hidden) size")->check(size);
  slstm->add_option("--heads", so.heads, "number of heads")->check(size);
  slstm->add_option("--dtype", so.dtype, "f32 | bf16 | f16")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  slstm->add_option("--impl", so.impls, "comma-separated backends: cuda, vanilla")
      ->delimiter(',')
      ->check(CLI::IsMember({"cuda", "vanilla"}));
  slstm->add_option("--parts", so.parts, "comma-separated: recurrence, layer")
      ->delimiter(',')
      ->check(CLI::IsMember({"recurrence", "layer"}));
  slstm->add_option("--device", so.device, "torch device (cpu, cuda, cuda:1)");
  slstm->add_option("--warmup", so.warmup, "untimed calls first (vanilla: 1)")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxSize));
  slstm->add_option("--iters", so.iters, "timed calls (cuda backend)")->check(size);
  slstm->add_option("--slow-iters", so.slow_iters, "timed calls for the vanilla backend")
      ->check(size);

  auto* generate = app.add_subcommand(
      "generate", "125M-like LM (bf16): ms per step at each batch, prefill, bandwidth bound (GPU)");
  xlstm::bench::GenerateBenchOptions go;
  generate->add_option("--batch", go.batches, "comma-separated batch sizes")
      ->delimiter(',')
      ->check(size);
  generate->add_option("--prompt", go.prompt, "prefill length at batch 1")->check(size);
  generate->add_option("--dtype", go.dtype, "f32 | bf16 | f16")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  generate->add_option("--device", go.device, "torch device");
  generate->add_option("--warmup", go.warmup, "untimed steps first")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxSize));
  generate->add_option("--iters", go.iters, "timed steps")->check(size);

  auto* large = app.add_subcommand(
      "large", "xLSTM-Large, 7B shape, random bf16 weights: prefill, decode ms/token (GPU)");
  xlstm::bench::LargeBenchOptions lo;
  large->add_option("--batch", lo.batches, "comma-separated decode batch sizes")
      ->delimiter(',')
      ->check(size);
  large->add_option("--prompt", lo.prompt, "prefill length at batch 1")->check(size);
  large->add_option("--blocks", lo.blocks, "number of blocks (32: the 7B model)")->check(size);
  large->add_option("--weight-mode", lo.weight_mode, "single | fused")
      ->check(CLI::IsMember({"single", "fused"}));
  large->add_option("--dtype", lo.dtype, "f32 | bf16 | f16")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  large->add_option("--device", lo.device, "torch device");
  large->add_option("--iters", lo.iters, "timed decode steps")->check(size);

  auto* mlstm = app.add_subcommand(
      "mlstm", "mLSTM chunkwise kernels and ATen forms, 125M and 7B shapes, bf16 (GPU)");
  xlstm::bench::MlstmBenchOptions mo;
  mlstm->add_option("--device", mo.device, "torch device");
  mlstm->add_option("--shape", mo.shapes,
                    "B,NH,S,DHqk,DHv, repeatable (default: 8,4,2048,384,384 and 1,8,2048,256,512)");
  mlstm->add_option("--warmup", mo.warmup, "untimed calls first")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxSize));
  mlstm->add_option("--iters", mo.iters, "timed calls")->check(size);

  auto* lm = app.add_subcommand(
      "lm", "125M-like LM training step (B8 S2048, bf16 autocast, AdamW): ms, peak memory (GPU)");
  xlstm::bench::LmBenchOptions lmo;
  lm->add_option("--config", lmo.config, "xLSTMLMModelConfig YAML (default: the 125M-like LM)")
      ->check(CLI::ExistingFile);
  lm->add_option("--batch", lmo.batch, "batch size")->check(size);
  lm->add_option("--seq", lmo.seq, "sequence length")->check(size);
  lm->add_option("--amp", lmo.amp, "autocast dtype on CUDA: bf16 | f16 | none")
      ->check(CLI::IsMember({"bf16", "f16", "none"}));
  lm->add_option("--variants", lmo.variants,
                 "comma-separated: kernels, fused_loss, aten_mlstm, torch_adamw")
      ->delimiter(',')
      ->check(CLI::IsMember({"kernels", "fused_loss", "aten_mlstm", "torch_adamw"}));
  lm->add_option("--device", lmo.device, "torch device");
  lm->add_option("--warmup", lmo.warmup, "untimed steps first")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxSize));
  lm->add_option("--iters", lmo.iters, "timed steps")->check(size);

  if (const auto code = xlstm::apps::parse_command_line(app, argc, argv, "xlstm-bench"))
    return *code;
  return xlstm::apps::run_main("xlstm-bench", [&] {
    if (*cpu) return run_cpu(config, batch, seq, iters, threads, report);
    if (*large) {
      lo.json = report.json;
      xlstm::apps::require_device(lo.device);
      return xlstm::bench::run_large(lo);
    }
    if (*mlstm) {
      mo.json = report.json;
      xlstm::apps::require_device(mo.device);
      return xlstm::bench::run_mlstm(mo);
    }
    if (*lm) {
      lmo.json = report.json;
      xlstm::apps::require_device(lmo.device);
      return xlstm::bench::run_lm(lmo);
    }
    if (*generate) {
      go.json = report.json;
      xlstm::apps::require_device(go.device);
      return xlstm::bench::run_generate(go);
    }
    so.json = report.json;
    xlstm::apps::require_device(so.device);
    return xlstm::bench::run_slstm(so);
  });
}
