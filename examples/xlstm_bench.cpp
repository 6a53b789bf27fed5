// xlstm-bench: speed benchmarks that print tokens/s, milliseconds and peak memory.
//   xlstm-bench cpu    the README block stack on the CPU: forward, forward+backward, step() loop.
// Compare with the official package in the same run: scripts/bench-cpu.sh.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>

#include <xlstm/xlstm.h>

namespace {

double seconds_per_call(const std::function<void()>& fn, int iters) {
  fn();  // warm-up
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
}

/// Resident set high-water mark of this process in MiB (Linux), -1 when unknown.
double peak_rss_mib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double kib = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmHWM: %lf kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib / 1024.0;
}

struct Report {
  bool json = false;
  void operator()(const std::string& bench, double seconds, int64_t tokens, int batch,
                  int seq) const {
    const double ms = seconds * 1e3, tok_s = tokens / seconds;
    if (json) {
      std::printf(
          "{\"impl\": \"xlstm-cpp\", \"bench\": \"%s\", \"ms\": %.3f, \"tok_s\": %.1f, "
          "\"batch\": %d, \"seq\": %d, \"threads\": %d, \"peak_rss_mib\": %.1f}\n",
          bench.c_str(), ms, tok_s, batch, seq, torch::get_num_threads(), peak_rss_mib());
    } else {
      std::printf("%-18s %10.2f ms  %12.0f tokens/s  peak RSS %.0f MiB\n", bench.c_str(), ms, tok_s,
                  peak_rss_mib());
    }
    std::fflush(stdout);
  }
};

int run_cpu(const std::string& config_path, int batch, int seq, int iters, int threads,
            const Report& report) {
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(0);
  auto cfg = xlstm::from_yaml_file<xlstm::xLSTMBlockStackConfig>(config_path);
  if (cfg.slstm_block) cfg.slstm_block->slstm.backend = "vanilla";
  xlstm::xLSTMBlockStack stack(cfg);
  stack->eval();
  const auto x = torch::randn({batch, seq, cfg.embedding_dim});
  const int64_t tokens = int64_t(batch) * seq;

  {
    torch::NoGradGuard no_grad;
    report("forward", seconds_per_call([&] { stack->forward(x); }, iters), tokens, batch, seq);
  }
  const auto xg = x.clone().requires_grad_(true);
  report("forward_backward", seconds_per_call([&] { stack->forward(xg).sum().backward(); }, iters),
         tokens, batch, seq);
  torch::NoGradGuard no_grad;
  report("step",
         seconds_per_call(
             [&] {
               xlstm::xLSTMBlockStackState state;
               for (int t = 0; t < seq; ++t) {
                 state = stack->step(x.narrow(1, t, 1), state).second;
               }
             },
             1),
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
  cpu->add_option("--batch", batch, "batch size")->check(CLI::PositiveNumber);
  cpu->add_option("--seq", seq, "sequence length")->check(CLI::PositiveNumber);
  cpu->add_option("--iters", iters, "timed iterations (after one warm-up)")
      ->check(CLI::PositiveNumber);
  cpu->add_option("--threads", threads, "intra-op threads (0: LibTorch's default)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*cpu) return run_cpu(config, batch, seq, iters, threads, report);
  } catch (const std::exception& e) {
    std::cerr << "xlstm-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
