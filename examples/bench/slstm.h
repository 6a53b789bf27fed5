// xlstm-bench slstm: the sLSTM at the peers' shape (bench_peers.py `slstm_kernel` and `slstm`),
// (a) the recurrence alone (gate pre-activations in, hidden states out) and (b) the whole
// sLSTMLayer (conv, gate projections, recurrence, group norm), forward and forward+backward, for
// each backend; the ratio to the vanilla backend measured in the same run.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <xlstm/components/dtype.h>
#include <xlstm/ops/slstm_recurrence.h>
#include <xlstm/xlstm.h>

#include "report.h"

namespace xlstm::bench {

struct SlstmBenchOptions {
  int batch = 16, seq = 1024, embedding_dim = 768, heads = 4;
  std::string dtype = "bf16", device = "cuda";
  std::vector<std::string> impls{"cuda", "vanilla"}, parts{"recurrence", "layer"};
  int warmup = 3, iters = 20, slow_iters = 2;
  bool json = false;
};

struct SlstmMeasurement {
  std::string bench, impl, error;
  double fwd_ms = 0, fwdbwd_ms = 0, peak_mib = 0;
};

// Times fwd (no grad) and fwd+bwd of one implementation; `fwd` and `fwdbwd` run one call each.
inline SlstmMeasurement measure(const SlstmBenchOptions& o, const std::string& bench,
                                const std::string& impl, const std::function<void()>& fwd,
                                const std::function<void()>& fwdbwd) {
  const torch::Device device(o.device);
  const bool slow = impl == "vanilla";
  const int warmup = slow ? 1 : o.warmup, iters = slow ? o.slow_iters : o.iters;
  SlstmMeasurement m{bench, impl};
  std::fprintf(stderr, "[xlstm-bench] %s %s: %d + %d calls each...\n", bench.c_str(), impl.c_str(),
               warmup, iters);
  try {
    reset_peak_memory(device);
    m.fwd_ms = mean_ms(device, warmup, iters, [&] {
      torch::NoGradGuard no_grad;
      fwd();
    });
    m.fwdbwd_ms = mean_ms(device, warmup, iters, fwdbwd);
    m.peak_mib = peak_memory_mib(device);
  } catch (const std::exception& e) {
    m.error = e.what();
    m.error = m.error.substr(0, m.error.find('\n'));
  }
  return m;
}

inline SlstmMeasurement measure_recurrence(const SlstmBenchOptions& o, const std::string& impl) {
  const auto opt = torch::TensorOptions().device(o.device).dtype(dtype_from_name(o.dtype));
  const int64_t H = o.embedding_dim, DH = H / o.heads;
  torch::manual_seed(0);
  const torch::Tensor wx = torch::randn({o.seq, o.batch, 4 * H}, opt);
  const torch::Tensor r = torch::randn({o.heads, 4 * DH, DH}, opt) / std::sqrt(double(DH));
  const torch::Tensor bias = torch::zeros({4 * H}, opt),
                      state0 = torch::zeros({4, o.batch, H}, opt);
  ops::slstm::RecurrenceOptions options;
  options.num_heads = o.heads;
  decltype(&ops::slstm::recurrence_vanilla) fn = nullptr;
  if (impl == "vanilla") fn = ops::slstm::recurrence_vanilla;
#ifdef XLSTM_WITH_CUDA
  if (impl == "cuda") fn = ops::slstm::recurrence_cuda;
#endif
  if (fn == nullptr)
    return {"slstm_kernel", impl,
            impl == "cuda" ? "this build has no CUDA backend" : "unknown backend " + impl};
  const torch::Tensor wx_g = wx.detach().requires_grad_(true);
  const torch::Tensor r_g = r.detach().requires_grad_(true);
  const torch::Tensor b_g = bias.detach().requires_grad_(true);
  return measure(
      o, "slstm_kernel", impl, [&] { fn(wx, state0, r, bias, options); },
      [&] {
        std::get<0>(fn(wx_g, state0, r_g, b_g, options)).to(torch::kFloat32).sum().backward();
      });
}

inline SlstmMeasurement measure_layer(const SlstmBenchOptions& o, const std::string& impl) {
  sLSTMLayerConfig cfg;
  cfg.embedding_dim = o.embedding_dim;
  cfg.num_heads = o.heads;
  cfg.conv1d_kernel_size = 4;
  cfg.backend = impl;
  try {
    cfg.finalize();
  } catch (const std::exception& e) {
    return {"slstm_layer", impl, e.what()};
  }
  torch::manual_seed(0);
  sLSTMLayer layer(cfg);
  layer->to(torch::Device(o.device), dtype_from_name(o.dtype));
  const torch::Tensor x =
      torch::randn({o.batch, o.seq, o.embedding_dim},
                   torch::TensorOptions().device(o.device).dtype(dtype_from_name(o.dtype)))
          .requires_grad_(true);
  return measure(
      o, "slstm_layer", impl, [&] { layer->forward(x); },
      [&] { layer->forward(x).to(torch::kFloat32).sum().backward(); });
}

inline void print(const SlstmBenchOptions& o, const SlstmMeasurement& m,
                  const SlstmMeasurement* baseline) {
  const double tokens = double(o.batch) * o.seq;
  const bool ratio = baseline && baseline != &m && baseline->error.empty() && m.error.empty();
  if (o.json) {
    std::printf(
        "{\"bench\":\"%s\",\"impl\":\"xlstm-cpp-%s\",\"B\":%d,\"S\":%d,\"D\":%d,\"H\":%d,"
        "\"dtype\":\"%s\"",
        m.bench.c_str(), m.impl.c_str(), o.batch, o.seq, o.embedding_dim, o.heads, o.dtype.c_str());
    if (!m.error.empty()) {
      std::string e = m.error;
      for (char& c : e)
        if (c == '"' || c == '\\') c = '\'';
      std::printf(",\"error\":\"%s\"}\n", e.c_str());
      return;
    }
    std::printf(
        ",\"fwd_ms\":%.4f,\"fwdbwd_ms\":%.4f,\"fwd_tok_s\":%.1f,\"fwdbwd_tok_s\":%.1f,"
        "\"peak_mib\":%.1f",
        m.fwd_ms, m.fwdbwd_ms, tokens / m.fwd_ms * 1e3, tokens / m.fwdbwd_ms * 1e3, m.peak_mib);
    if (ratio)
      std::printf(",\"vs_vanilla_fwd\":%.2f,\"vs_vanilla_fwdbwd\":%.2f",
                  baseline->fwd_ms / m.fwd_ms, baseline->fwdbwd_ms / m.fwdbwd_ms);
    std::printf("}\n");
  } else if (!m.error.empty()) {
    std::printf("%-12s %-8s error: %s\n", m.bench.c_str(), m.impl.c_str(), m.error.c_str());
  } else {
    std::printf(
        "%-12s %-8s fwd %9.2f ms (%8.0f tok/s)  fwd+bwd %9.2f ms (%8.0f tok/s)  peak %7.0f MiB",
        m.bench.c_str(), m.impl.c_str(), m.fwd_ms, tokens / m.fwd_ms * 1e3, m.fwdbwd_ms,
        tokens / m.fwdbwd_ms * 1e3, m.peak_mib);
    if (ratio)
      std::printf("  %.1fx / %.1fx vanilla", baseline->fwd_ms / m.fwd_ms,
                  baseline->fwdbwd_ms / m.fwdbwd_ms);
    std::printf("\n");
  }
  std::fflush(stdout);
}

inline int run_slstm(const SlstmBenchOptions& o) {
  if (o.embedding_dim % o.heads != 0) {
    std::fprintf(stderr, "xlstm-bench slstm: --embedding-dim %d is not divisible by --heads %d\n",
                 o.embedding_dim, o.heads);
    return 2;
  }
  if (!o.json)
    std::printf("sLSTM, B %d, S %d, embedding %d, %d heads, %s, %s\n", o.batch, o.seq,
                o.embedding_dim, o.heads, o.dtype.c_str(), o.device.c_str());
  for (const std::string& part : o.parts) {
    std::vector<SlstmMeasurement> results;
    for (const std::string& impl : o.impls)
      results.push_back(part == "layer" ? measure_layer(o, impl) : measure_recurrence(o, impl));
    const SlstmMeasurement* vanilla = nullptr;
    for (const SlstmMeasurement& m : results)
      if (m.impl == "vanilla") vanilla = &m;
    for (const SlstmMeasurement& m : results) print(o, m, vanilla);
  }
  return 0;
}

}  // namespace xlstm::bench
