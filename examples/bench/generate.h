// xlstm-bench generate: the 125M-like LM of bench_peers.py's lm_cfg() (vocab 50304, D 768, 12
// blocks, sLSTM at 3 and 9, context 2048) in bf16: ms per step at each batch size, stepped four
// ways (the functional step(); step_in_place on a preallocated state; that step captured as a
// CUDA graph and replayed, what generate() uses on CUDA; the same with the mLSTM cell step in ATen
// ops instead of the step kernels), the prefill of a prompt (forward_with_state) with where its
// time goes (one mLSTM block, one sLSTM block), and the bandwidth bound: bytes read per step
// (weights, one embedding row, the state) over a measured device copy bandwidth.
#pragma once

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include <xlstm/components/dtype.h>
#include <xlstm/generation/stepper.h>
#include <xlstm/xlstm.h>

#include "lm125m.h"
#include "report.h"

namespace xlstm::bench {

struct GenerateBenchOptions {
  std::string device = "cuda", dtype = "bf16";
  std::vector<int> batches{1, 16};
  int prompt = 2048;  // prefill length (batch 1)
  int warmup = 8, iters = 128;
  bool json = false;
};

/// Bytes of every defined tensor of `state`.
inline int64_t state_bytes(const xLSTMBlockStackState& state) {
  int64_t bytes = 0;
  const auto add = [&](const torch::Tensor& t) {
    if (t.defined()) bytes += t.numel() * static_cast<int64_t>(t.element_size());
  };
  for (const auto& block : state.blocks) {
    if (const auto* m = std::get_if<mLSTMState>(&block)) {
      for (const auto& t : {m->C, m->n, m->m, m->conv}) add(t);
    } else if (const auto* s = std::get_if<sLSTMState>(&block)) {
      for (const auto& t : {s->y, s->c, s->n, s->m, s->conv}) add(t);
    }
  }
  return bytes;
}

/// Device copy bandwidth in bytes/s (read + write) of a 1 GiB copy.
inline double copy_bandwidth(const torch::Device& device) {
  const int64_t bytes = int64_t(1) << 30;
  const auto options = torch::TensorOptions().device(device).dtype(torch::kUInt8);
  const torch::Tensor from = torch::ones({bytes}, options), to = torch::empty({bytes}, options);
  const double ms = mean_ms(device, 2, 10, [&] { to.copy_(from); });
  return 2.0 * static_cast<double>(bytes) / (ms * 1e-3);
}

inline void emit_json_or_text(bool json, const std::string& json_line, const std::string& text) {
  std::printf("%s\n", json ? json_line.c_str() : text.c_str());
  std::fflush(stdout);
}

inline int run_generate(const GenerateBenchOptions& o) {
  namespace gen = xlstm::generation;
  const torch::Device device(o.device);
  torch::manual_seed(0);
  xLSTMLMModel model(lm125m_config());
  model->to(device, dtype_from_name(o.dtype));
  model->eval();
  torch::NoGradGuard no_grad;
  int64_t params = 0;
  for (const auto& [name, p] : model->unique_named_parameters()) params += p.numel();
  const auto& embedding = model->token_embedding->weight;
  // A step reads every weight once, except the embedding table (one row per token).
  const int64_t element = static_cast<int64_t>(embedding.element_size());
  const int64_t weight_bytes = (params - embedding.numel()) * element;
  const double bandwidth = copy_bandwidth(device);
  char line[1024];
  std::snprintf(line, sizeof line,
                "{\"bench\":\"copy_bandwidth\",\"impl\":\"xlstm-cpp-cuda\",\"device\":\"%s\","
                "\"gb_per_s\":%.1f}",
                o.device.c_str(), bandwidth * 1e-9);
  emit_json_or_text(o.json, line,
                    "device copy bandwidth " + std::to_string(bandwidth * 1e-9) + " GB/s");

  for (const int B : o.batches) {
    const auto ids =
        torch::randint(50304, {B}, torch::TensorOptions().device(device).dtype(torch::kLong));
    const auto prompt = torch::randint(50304, {B, 16}, ids.options());
    const xLSTMBlockStackState state = model->forward_with_state(prompt).second;
    const int64_t bytes = weight_bytes + B * embedding.size(1) * element + state_bytes(state);
    const double bound_ms = static_cast<double>(bytes) / bandwidth * 1e3;
    xLSTMBlockStackState functional = gen::StateRows<xLSTMBlockStackState>::clone(state);
    gen::Stepper<xLSTMLMModel> in_place(model, state, /*cuda_graph=*/false);
    gen::Stepper<xLSTMLMModel> graph(model, state, /*cuda_graph=*/true);
    gen::Stepper<xLSTMLMModel> graph_aten(model, state, /*cuda_graph=*/true);
    const auto column = ids.view({B, 1});
    struct Variant {
      const char* name;
      std::function<void()> step;
      const gen::Stepper<xLSTMLMModel>* graph = nullptr;
      bool aten_cell = false;  // the mLSTM cell step in ATen ops, not the step kernels
    };
    const std::vector<Variant> variants = {
        {"step", [&] { functional = model->step(column, functional).second; }},
        {"step_in_place", [&] { in_place.step(ids); }},
        {"cuda_graph", [&] { graph.step(ids); }, &graph},
        {"cuda_graph_aten_cell", [&] { graph_aten.step(ids); }, &graph_aten, true},
    };
    for (const auto& variant : variants) {
      if (variant.aten_cell) setenv("XLSTM_MLSTM_STEP_KERNEL", "0", 1);
      const double ms = mean_ms(device, o.warmup, o.iters, variant.step);
      if (variant.aten_cell) unsetenv("XLSTM_MLSTM_STEP_KERNEL");
      if (variant.graph && variant.graph->mode() != gen::StepMode::kCudaGraph) {
        emit_json_or_text(o.json,
                          "{\"bench\":\"lm125m_step\",\"impl\":\"xlstm-cpp-cuda\",\"variant\":\"" +
                              std::string(variant.name) + "\",\"B\":" + std::to_string(B) +
                              ",\"error\":\"not captured (see stderr)\"}",
                          std::string(variant.name) + ": not captured (see stderr)");
        continue;
      }
      std::snprintf(line, sizeof line,
                    "{\"bench\":\"lm125m_step\",\"impl\":\"xlstm-cpp-cuda\",\"variant\":\"%s\","
                    "\"B\":%d,\"dtype\":\"%s\",\"step_ms\":%.4f,\"tok_s\":%.1f,\"params\":%lld,"
                    "\"weight_bytes\":%lld,\"state_bytes\":%lld,\"bytes_read\":%lld,"
                    "\"copy_gb_per_s\":%.1f,\"bound_ms\":%.4f}",
                    variant.name, B, o.dtype.c_str(), ms, B / ms * 1e3, (long long)params,
                    (long long)weight_bytes, (long long)state_bytes(state), (long long)bytes,
                    bandwidth * 1e-9, bound_ms);
      char text[512];
      std::snprintf(text, sizeof text,
                    "step B%-3d %-14s %8.3f ms  (%.0f tok/s; bound %.4f ms = %.1f MB / %.0f GB/s)",
                    B, variant.name, ms, B / ms * 1e3, bound_ms, bytes * 1e-6, bandwidth * 1e-9);
      emit_json_or_text(o.json, line, text);
    }
  }

  // Prefill of one prompt, and one block of each kind over the same length.
  const auto prompt = torch::randint(50304, {1, o.prompt},
                                     torch::TensorOptions().device(device).dtype(torch::kLong));
  const double prefill_ms = mean_ms(device, 2, 5, [&] { model->forward_with_state(prompt); });
  const auto x = model->token_embedding->forward(prompt);
  auto& blocks = model->xlstm_block_stack->blocks;
  const auto block_ms = [&](bool mlstm) {
    for (auto& block : blocks)
      if (block->is_mlstm() == mlstm)
        return mean_ms(device, 2, 5, [&] { block->forward_with_state(x); });
    return 0.0;
  };
  const double mlstm_ms = block_ms(true), slstm_ms = block_ms(false);
  int mlstm_blocks = 0;
  for (auto& block : blocks) mlstm_blocks += block->is_mlstm() ? 1 : 0;
  std::snprintf(line, sizeof line,
                "{\"bench\":\"lm125m_prefill\",\"impl\":\"xlstm-cpp-cuda\",\"B\":1,\"S\":%d,"
                "\"dtype\":\"%s\",\"prefill_ms\":%.3f,\"mlstm_block_ms\":%.3f,"
                "\"slstm_block_ms\":%.3f,\"mlstm_blocks\":%d,\"slstm_blocks\":%d}",
                o.prompt, o.dtype.c_str(), prefill_ms, mlstm_ms, slstm_ms, mlstm_blocks,
                static_cast<int>(blocks.size()) - mlstm_blocks);
  char text[512];
  std::snprintf(
      text, sizeof text,
      "prefill B1 S%d %8.3f ms  (one mLSTM block %.3f ms x %d, one sLSTM block %.3f ms x %d)",
      o.prompt, prefill_ms, mlstm_ms, mlstm_blocks, slstm_ms,
      static_cast<int>(blocks.size()) - mlstm_blocks);
  emit_json_or_text(o.json, line, text);
  return 0;
}

}  // namespace xlstm::bench
