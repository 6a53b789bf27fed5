// xlstm-bench large: xLSTM-Large at the 7B shape (embedding 4096, 8 heads, 32 blocks, vocab 50304,
// the official defaults otherwise) with random bf16 weights created on the GPU: the prefill of a
// prompt at batch 1 (time to first token = prefill + the first sampled token), decode ms per token
// at each batch size (the in-place step captured as a CUDA graph, what generate() uses; and the
// plain in-place step), peak GPU memory, and the bandwidth bound per token (the weights read once,
// one embedding row per sequence, the state read and written) over the measured copy rate; then
// each matrix-vector product of the step alone, the decode kernels against cuBLAS (gemv.h).
// bench_peers.py large / hf_large time the official package and transformers (scripts/
// gpu-check.sh large, in the same command).
#pragma once

#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include <xlstm/components/dtype.h>
#include <xlstm/generation/stepper.h>
#include <xlstm/xlstm_large/model.h>

#include "gemv.h"
#include "generate.h"
#include "report.h"

namespace xlstm::bench {

struct LargeBenchOptions {
  std::string device = "cuda", dtype = "bf16", weight_mode = "fused";
  std::vector<int> batches{1, 8};
  int prompt = 2048;
  int blocks = 32;  // fewer for a quick look
  int warmup = 4, iters = 32;
  bool json = false;
};

inline large::xLSTMLargeConfig large7b_config(const LargeBenchOptions& o) {
  large::xLSTMLargeConfig c;
  c.embedding_dim = 4096;
  c.num_heads = 8;
  c.num_blocks = o.blocks;
  c.vocab_size = 50304;
  c.mode = "inference";
  c.return_last_states = true;
  c.weight_mode = o.weight_mode;
  return c;
}

inline int64_t state_bytes(const large::xLSTMLargeState& state) {
  int64_t bytes = 0;
  for (const auto& b : state.blocks)
    for (const auto& t : {b.C, b.n, b.m})
      bytes += t.numel() * static_cast<int64_t>(t.element_size());
  return bytes;
}

inline int run_large(const LargeBenchOptions& o) {
  namespace gen = xlstm::generation;
  const torch::Device device(o.device);
  torch::manual_seed(0);
  reset_peak_memory(device);
  large::xLSTMLarge model(large7b_config(o),
                          torch::TensorOptions().device(device).dtype(dtype_from_name(o.dtype)));
  model->eval();
  torch::NoGradGuard no_grad;
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  const auto& embedding = model->embedding->weight;
  const int64_t element = static_cast<int64_t>(embedding.element_size());
  const int64_t weight_bytes = (params - embedding.numel()) * element;
  const double bandwidth = copy_bandwidth(device);
  char line[1024], text[512];
  std::snprintf(line, sizeof line,
                "{\"bench\":\"copy_bandwidth\",\"impl\":\"xlstm-cpp-cuda\",\"gb_per_s\":%.1f}",
                bandwidth * 1e-9);
  emit_json_or_text(o.json, line,
                    "device copy bandwidth " + std::to_string(bandwidth * 1e-9) + " GB/s");
  const auto long_options = torch::TensorOptions().device(device).dtype(torch::kLong);

  // Prefill of one prompt (on CUDA in chunks of 256: mLSTMLayer::chunk_size_for), every
  // position's logits as the official model(x); time to first token: generation's prefill (the
  // head over the last position only), the argmax and its copy to the host.
  const auto prompt = torch::randint(50304, {1, o.prompt}, long_options);
  const double prefill_ms = mean_ms(device, 1, 3, [&] { model->forward_with_state(prompt); });
  const double first_token_ms = mean_ms(device, 1, 3, [&] {
    model->last_logits_with_state(prompt).first.select(1, 0).argmax(-1).cpu();
  });
  std::snprintf(line, sizeof line,
                "{\"bench\":\"large7b_prefill\",\"impl\":\"xlstm-cpp-cuda\",\"B\":1,\"S\":%d,"
                "\"blocks\":%d,\"dtype\":\"%s\",\"prefill_ms\":%.3f,\"ttft_ms\":%.3f,"
                "\"peak_gpu_mib\":%.0f}",
                o.prompt, o.blocks, o.dtype.c_str(), prefill_ms, first_token_ms,
                peak_memory_mib(device));
  std::snprintf(text, sizeof text, "prefill B1 S%d %8.3f ms, time to first token %.3f ms", o.prompt,
                prefill_ms, first_token_ms);
  emit_json_or_text(o.json, line, text);

  for (const int B : o.batches) {
    reset_peak_memory(device);
    const auto ids = torch::randint(50304, {B}, long_options);
    const auto state =
        model->forward_with_state(torch::randint(50304, {B, 16}, long_options)).second;
    const int64_t bytes = weight_bytes + B * embedding.size(1) * element + 2 * state_bytes(state);
    const double bound_ms = static_cast<double>(bytes) / bandwidth * 1e3;
    gen::Stepper<large::xLSTMLarge> graph(model, state, /*cuda_graph=*/true);
    gen::Stepper<large::xLSTMLarge> in_place(model, state, /*cuda_graph=*/false);
    for (auto* stepper : {&graph, &in_place}) {
      const bool is_graph = stepper == &graph;
      const double ms = mean_ms(device, o.warmup, o.iters, [&] { stepper->step(ids); });
      const char* variant = is_graph ? "cuda_graph" : "step_in_place";
      if (is_graph && graph.mode() != gen::StepMode::kCudaGraph)
        variant = "cuda_graph_not_captured";
      std::snprintf(line, sizeof line,
                    "{\"bench\":\"large7b_decode\",\"impl\":\"xlstm-cpp-cuda\",\"variant\":\"%s\","
                    "\"B\":%d,\"blocks\":%d,\"weight_mode\":\"%s\",\"dtype\":\"%s\","
                    "\"ms_per_token\":%.4f,\"tok_s\":%.1f,\"bytes_read\":%lld,\"bound_ms\":%.4f,"
                    "\"peak_gpu_mib\":%.0f}",
                    variant, B, o.blocks, o.weight_mode.c_str(), o.dtype.c_str(), ms, B / ms * 1e3,
                    (long long)bytes, bound_ms, peak_memory_mib(device));
      std::snprintf(text, sizeof text,
                    "decode B%-2d %-14s %8.3f ms/token (%.0f tok/s; bound %.3f ms = %.2f GB / %.0f "
                    "GB/s)",
                    B, variant, ms, B / ms * 1e3, bound_ms, bytes * 1e-9, bandwidth * 1e-9);
      emit_json_or_text(o.json, line, text);
    }
  }
  if (device.is_cuda())
    run_gemv_compare(device, dtype_from_name(o.dtype), o.batches, o.iters, o.json);
  return 0;
}

}  // namespace xlstm::bench
