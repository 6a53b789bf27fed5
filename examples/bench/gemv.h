// xlstm-bench large, the matrix-vector products of one decode step alone: each 7B shape by the
// decode kernels (ops/decode.h, with the epilogue the model uses there) and by cuBLAS
// (torch::linear, the product alone), each over enough copies of the weights that none stays in
// the L2 cache, each loop of copies replayed as one CUDA graph: microseconds per matrix and the
// rate its weights stream at.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <xlstm/generation/step_graph.h>
#include <xlstm/ops/decode.h>

#include "generate.h"
#include "report.h"

namespace xlstm::bench {

struct GemvShape {
  const char* name;
  int64_t rows, input_size;
};

/// Mean ms of one call of `loop` replayed as a CUDA graph (eager where it cannot be captured).
inline double graph_ms(const torch::Device& device, int iters,
                       const std::function<torch::Tensor()>& loop) {
  std::string why_not;
  const auto graph = generation::capture_cuda_graph(loop, device, 2, &why_not);
  if (!graph) return mean_ms(device, 2, iters, [&] { loop(); });
  return mean_ms(device, 2, iters, [&] { graph->replay(); });
}

inline void run_gemv_compare(const torch::Device& device, torch::ScalarType dtype,
                             const std::vector<int>& batches, int iters, bool json) {
  // q | k | v | o | i | f, out_proj, proj_up_gate_z, proj_down, lm_head of the fused 7B model.
  const GemvShape shapes[] = {{"qkv_if", 12304, 4096},
                              {"out_proj", 4096, 4096},
                              {"up_gate_z", 21888, 4096},
                              {"down", 4096, 10944},
                              {"lm_head", 50304, 4096}};
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  for (const GemvShape& s : shapes) {
    const int64_t bytes = s.rows * s.input_size * static_cast<int64_t>(c10::elementSize(dtype));
    const int copies = static_cast<int>(std::max<int64_t>(2, (int64_t(1) << 30) / bytes));
    std::vector<ops::LinearWeights> maps;
    for (int c = 0; c < copies; ++c)
      maps.push_back({torch::randn({s.rows, s.input_size}, options) * 0.02, {}});
    const std::string name = s.name;
    for (const int B : batches) {
      const auto x = torch::randn({B, 1, s.input_size}, options);
      const auto residual = torch::randn({B, 1, s.rows}, options);
      const auto ours = [&](const ops::LinearWeights& map) {
        if (name == "out_proj" || name == "down") return ops::linear_add(x, map, residual);
        if (name == "lm_head") return ops::linear_soft_cap(x, map, 30.0);
        if (name == "up_gate_z") {
          const int64_t F = s.rows / 2;
          return ops::linear_gated_silu(x, {map.weight.narrow(0, 0, F), {}},
                                        {map.weight.narrow(0, F, F), {}});
        }
        return ops::linear_concat(x, {map});
      };
      const double ours_ms = graph_ms(device, iters, [&] {
        torch::Tensor y;
        for (const auto& map : maps) y = ours(map);
        return y;
      });
      const double cublas_ms = graph_ms(device, iters, [&] {
        torch::Tensor y;
        for (const auto& map : maps) y = torch::linear(x, map.weight);
        return y;
      });
      const double ours_us = ours_ms * 1e3 / copies, cublas_us = cublas_ms * 1e3 / copies;
      char line[512], text[256];
      std::snprintf(line, sizeof line,
                    "{\"bench\":\"large7b_gemv\",\"impl\":\"xlstm-cpp-cuda\",\"shape\":\"%s\","
                    "\"N\":%lld,\"K\":%lld,\"B\":%d,\"ours_us\":%.2f,\"cublas_us\":%.2f,"
                    "\"ours_gb_s\":%.0f,\"cublas_gb_s\":%.0f,\"cublas_over_ours\":%.3f}",
                    s.name, (long long)s.rows, (long long)s.input_size, B, ours_us, cublas_us,
                    bytes / ours_us * 1e-3, bytes / cublas_us * 1e-3, cublas_us / ours_us);
      std::snprintf(text, sizeof text,
                    "gemv %-9s [%5lld, %5lld] B%-2d ours %7.2f us (%4.0f GB/s), cuBLAS %7.2f us "
                    "(%4.0f GB/s)",
                    s.name, (long long)s.rows, (long long)s.input_size, B, ours_us,
                    bytes / ours_us * 1e-3, cublas_us, bytes / cublas_us * 1e-3);
      emit_json_or_text(json, line, text);
    }
  }
}

}  // namespace xlstm::bench
