// xlstm-bench mlstm: the mLSTM cell's sequence forms at the 125M-like LM's shape (B8 NH4 S2048
// DH384) and the 7B shape (B1 NH8 S2048 DHqk256 DHv512) by default (--shape for others), bf16: fwd
// and fwd+bwd ms, the causal attention TFLOP/s count of bench_peers.py (2 B NH S^2 (DHqk + DHv) / 2
// per forward) and peak GPU memory, for the chunkwise CUDA kernels (forward and backward under
// their autograd op; `chunkwise_stabilized` where `chunkwise_uses_kernels`) and the ATen chunkwise
// (XLSTM_MLSTM_CHUNKWISE_KERNEL=0) and parallel forms. One JSON line per row with --json,
// in the rows of bench_peers.py mlstm_kernel (scripts/gpu-check.sh mlstm runs both and prints the
// ratios).
#pragma once

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <xlstm/ops/mlstm.h>

#include "report.h"

namespace xlstm::bench {

struct MlstmShape {
  int64_t B, NH, S, DQK, DV;
};

struct MlstmBenchOptions {
  std::string device = "cuda";
  std::vector<std::string> shapes{"8,4,2048,384,384", "1,8,2048,256,512"};  // B,NH,S,DHqk,DHv
  int warmup = 3, iters = 20;
  bool json = false;
};

/// "B,NH,S,DHqk,DHv" as a shape; false when it is not five positive integers.
inline bool parse_mlstm_shape(const std::string& text, MlstmShape* shape) {
  long long v[5];
  char rest = 0;
  if (std::sscanf(text.c_str(), "%lld,%lld,%lld,%lld,%lld%c", &v[0], &v[1], &v[2], &v[3], &v[4],
                  &rest) != 5)
    return false;
  for (long long x : v)
    if (x <= 0) return false;
  *shape = {v[0], v[1], v[2], v[3], v[4]};
  return true;
}

struct MlstmRow {
  std::string impl, error;
  double fwd_ms = 0, fwdbwd_ms = -1, peak_gib = 0;  // fwdbwd_ms < 0: not measured
};

inline MlstmRow measure_mlstm(const MlstmBenchOptions& o, const std::string& impl,
                              const std::function<torch::Tensor()>& fwd,
                              const std::function<void()>& fwdbwd) {
  const torch::Device device(o.device);
  MlstmRow row;
  row.impl = impl;
  std::fprintf(stderr, "[xlstm-bench] mlstm %s...\n", impl.c_str());
  try {
    reset_peak_memory(device);
    row.fwd_ms = mean_ms(device, o.warmup, o.iters, [&] {
      torch::NoGradGuard no_grad;
      fwd();
    });
    if (fwdbwd) row.fwdbwd_ms = mean_ms(device, o.warmup, o.iters, fwdbwd);
    row.peak_gib = peak_memory_mib(device) / 1024.0;
  } catch (const std::exception& e) {
    row.error = json_safe_first_line(e.what());
  }
  return row;
}

inline void print_mlstm(const MlstmBenchOptions& o, const MlstmShape& s, const MlstmRow& r) {
  const double flops = 2.0 * s.B * s.NH * s.S * s.S * (s.DQK + s.DV) / 2;
  if (o.json) {
    std::printf(
        "{\"bench\":\"mlstm_kernel\",\"impl\":\"%s\",\"B\":%lld,\"NH\":%lld,\"S\":%lld,"
        "\"DHQK\":%lld,\"DHV\":%lld,\"dtype\":\"bf16\"",
        r.impl.c_str(), static_cast<long long>(s.B), static_cast<long long>(s.NH),
        static_cast<long long>(s.S), static_cast<long long>(s.DQK), static_cast<long long>(s.DV));
    if (!r.error.empty()) {
      std::printf(",\"error\":\"%s\"}\n", r.error.c_str());
    } else {
      std::printf(",\"fwd_ms\":%.4f", r.fwd_ms);
      if (r.fwdbwd_ms >= 0) std::printf(",\"fwdbwd_ms\":%.4f", r.fwdbwd_ms);
      std::printf(",\"causal_attention_tflops_fwd\":%.1f,\"peak_gib\":%.3f}\n",
                  flops / (r.fwd_ms * 1e-3) / 1e12, r.peak_gib);
    }
  } else if (!r.error.empty()) {
    std::printf("  %-28s error: %s\n", r.impl.c_str(), r.error.c_str());
  } else {
    std::printf("  %-28s fwd %8.3f ms (%6.1f TFLOP/s)", r.impl.c_str(), r.fwd_ms,
                flops / (r.fwd_ms * 1e-3) / 1e12);
    if (r.fwdbwd_ms >= 0) std::printf("  fwd+bwd %8.3f ms", r.fwdbwd_ms);
    std::printf("  peak %.2f GiB\n", r.peak_gib);
  }
  std::fflush(stdout);
}

inline int run_mlstm(const MlstmBenchOptions& o) {
  std::vector<MlstmShape> shapes;
  for (const std::string& text : o.shapes) {
    MlstmShape shape{};
    if (!parse_mlstm_shape(text, &shape)) {
      std::fprintf(stderr, "xlstm-bench mlstm: --shape '%s' is not B,NH,S,DHqk,DHv (positive)\n",
                   text.c_str());
      return 2;
    }
    shapes.push_back(shape);
  }
  const torch::Device device(o.device);
  const auto bf16 = torch::TensorOptions().device(device).dtype(torch::kBFloat16);
  for (const MlstmShape& s : shapes) {
    if (!o.json)
      std::printf("mLSTM B%lld NH%lld S%lld DHqk %lld DHv %lld, bf16, %s\n",
                  static_cast<long long>(s.B), static_cast<long long>(s.NH),
                  static_cast<long long>(s.S), static_cast<long long>(s.DQK),
                  static_cast<long long>(s.DV), o.device.c_str());
    torch::manual_seed(0);
    const torch::Tensor q = torch::randn({s.B, s.NH, s.S, s.DQK}, bf16).requires_grad_(true);
    const torch::Tensor k = torch::randn({s.B, s.NH, s.S, s.DQK}, bf16).requires_grad_(true);
    const torch::Tensor v = torch::randn({s.B, s.NH, s.S, s.DV}, bf16).requires_grad_(true);
    const torch::Tensor ig = torch::randn({s.B, s.NH, s.S, 1}, bf16).requires_grad_(true);
    const torch::Tensor fg = (torch::randn({s.B, s.NH, s.S, 1}, bf16) + 3).requires_grad_(true);
    const auto fwd_bwd = [](const std::function<torch::Tensor()>& fwd) {
      return [fwd] { fwd().to(torch::kFloat32).sum().backward(); };
    };
    std::vector<MlstmRow> rows;
    const auto chunkwise = [&] {
      return ops::mlstm::chunkwise_stabilized(q, k, v, ig, fg, {}, 64).first;
    };
    if (ops::mlstm::chunkwise_uses_kernels(q, k, v, ig, fg))
      rows.push_back(measure_mlstm(o, "xlstm-cpp-cuda-chunkwise", chunkwise, fwd_bwd(chunkwise)));
    // The same call on the ATen chunkwise form: the kernels switched off.
    setenv("XLSTM_MLSTM_CHUNKWISE_KERNEL", "0", 1);
    rows.push_back(measure_mlstm(o, "xlstm-cpp-aten-chunkwise", chunkwise, fwd_bwd(chunkwise)));
    unsetenv("XLSTM_MLSTM_CHUNKWISE_KERNEL");
    const auto parallel = [&] { return ops::mlstm::parallel_stabilized(q, k, v, ig, fg); };
    rows.push_back(measure_mlstm(o, "xlstm-cpp-aten-parallel", parallel, fwd_bwd(parallel)));
    for (const MlstmRow& r : rows) print_mlstm(o, s, r);
  }
  return 0;
}

}  // namespace xlstm::bench
