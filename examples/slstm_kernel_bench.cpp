// slstm-kernel-bench: speed of the sLSTM recurrence alone (gate pre-activations in, hidden states
// out), our backends side by side, in the shape of the peers' `slstm_kernel` benchmark
// (bench_peers.py: FlashRNN and the official cuda cell). One JSON line per backend:
//   {"bench":"slstm_kernel","impl":...,"fwd_ms":...,"fwdbwd_ms":...,"tok_s":...,"fwdbwd_tok_s":...}
// Timing as the peers do it: warm-up calls, then the mean of `iters` calls between two device
// synchronisations.
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "xlstm/blocks/slstm/backend.h"

namespace {

using xlstm::slstm::RecurrenceOptions;
using xlstm::slstm::RecurrenceResult;

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

std::string json_safe(std::string text) {
  text = text.substr(0, 300);
  for (char& c : text)
    if (c == '"' || c == '\\' || c == '\n') c = ' ';
  return text;
}

template <typename Fn>
double mean_ms(const torch::Device& device, int warmup, int iters, Fn fn) {
  for (int i = 0; i < warmup; ++i) fn();
  sync(device);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) fn();
  sync(device);
  const std::chrono::duration<double, std::milli> total = std::chrono::steady_clock::now() - start;
  return total.count() / iters;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the sLSTM recurrence backends (forward and forward+backward)"};
  int batch = 16, seq = 1024, heads = 4, head_dim = 192, warmup = 3, iters = 20, slow_iters = 2;
  std::string dtype_name = "bf16", impls = "cuda,vanilla", device_name = "cuda";
  app.add_option("--batch", batch, "batch size");
  app.add_option("--seq", seq, "sequence length");
  app.add_option("--heads", heads, "number of heads");
  app.add_option("--head-dim", head_dim, "head dimension");
  app.add_option("--dtype", dtype_name, "f32 | bf16 | f16")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  app.add_option("--impl", impls, "comma-separated backends: cuda, vanilla");
  app.add_option("--device", device_name, "torch device");
  app.add_option("--warmup", warmup, "untimed calls first");
  app.add_option("--iters", iters, "timed calls (cuda backend)");
  app.add_option("--slow-iters", slow_iters, "timed calls for the vanilla backend");
  CLI11_PARSE(app, argc, argv);

  const torch::Device device(device_name);
  const auto dtype = dtype_name == "f32"   ? torch::kFloat32
                     : dtype_name == "f16" ? torch::kFloat16
                                           : torch::kBFloat16;
  const auto opt = torch::TensorOptions().device(device).dtype(dtype);
  const int64_t H = static_cast<int64_t>(heads) * head_dim;
  torch::manual_seed(0);
  const torch::Tensor wx = torch::randn({seq, batch, 4 * H}, opt);
  const torch::Tensor r = torch::randn({heads, 4 * head_dim, head_dim}, opt) / std::sqrt(head_dim);
  const torch::Tensor bias = torch::zeros({4 * H}, opt);
  const torch::Tensor state0 = torch::zeros({4, batch, H}, opt);
  RecurrenceOptions options;
  options.num_heads = heads;

  std::stringstream list(impls);
  for (std::string impl; std::getline(list, impl, ',');) {
    RecurrenceResult (*fn)(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                           const torch::Tensor&, const RecurrenceOptions&) = nullptr;
#ifdef XLSTM_WITH_CUDA
    if (impl == "cuda") fn = xlstm::slstm::recurrence_cuda;
#else
    if (impl == "cuda") {
      std::cout << "{\"bench\":\"slstm_kernel\",\"impl\":\"xlstm-cpp-cuda\",\"error\":\"built "
                   "without CUDA\"}"
                << std::endl;
      continue;
    }
#endif
    if (impl == "vanilla") fn = xlstm::slstm::recurrence_vanilla;
    if (!fn) {
      std::cerr << "unknown --impl entry: " << impl << "\n";
      return 2;
    }
    const int n = impl == "vanilla" ? slow_iters : iters;
    const int w = impl == "vanilla" ? 1 : warmup;
    try {
      const double fwd = mean_ms(device, w, n, [&] {
        torch::NoGradGuard no_grad;
        fn(wx, state0, r, bias, options);
      });
      const torch::Tensor wx_g = wx.detach().requires_grad_(true);
      const torch::Tensor r_g = r.detach().requires_grad_(true);
      const torch::Tensor b_g = bias.detach().requires_grad_(true);
      const double fwdbwd = mean_ms(device, w, n, [&] {
        auto [y, final_state] = fn(wx_g, state0, r_g, b_g, options);
        y.to(torch::kFloat32).sum().backward();
      });
      const double tokens = static_cast<double>(batch) * seq;
      std::cout << "{\"bench\":\"slstm_kernel\",\"impl\":\"xlstm-cpp-" << impl
                << "\",\"B\":" << batch << ",\"S\":" << seq << ",\"D\":" << H << ",\"H\":" << heads
                << ",\"DH\":" << head_dim << ",\"dtype\":\"" << dtype_name
                << "\",\"fwd_ms\":" << fwd << ",\"fwdbwd_ms\":" << fwdbwd
                << ",\"tok_s\":" << tokens / fwd * 1e3
                << ",\"fwdbwd_tok_s\":" << tokens / fwdbwd * 1e3 << "}" << std::endl;
    } catch (const std::exception& e) {
      std::cout << "{\"bench\":\"slstm_kernel\",\"impl\":\"xlstm-cpp-" << impl << "\",\"error\":\""
                << json_safe(e.what()) << "\"}" << std::endl;
    }
  }
  return 0;
}
