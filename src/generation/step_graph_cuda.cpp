// The CUDA graph capture of step_graph.h (built only with XLSTM_WITH_CUDA).
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include "xlstm/generation/step_graph.h"

namespace xlstm {
namespace generation {
namespace {

class CudaGraphStep final : public CapturedStep {
 public:
  const torch::Tensor& replay() override {
    graph.replay();
    return output;
  }

  at::cuda::CUDAGraph graph;
  torch::Tensor output;  // in the graph's memory pool
};

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

}  // namespace

std::unique_ptr<CapturedStep> capture_cuda_graph(const std::function<torch::Tensor()>& step,
                                                 const torch::Device& device, int warmup,
                                                 std::string* why_not) {
  if (!device.is_cuda()) {
    *why_not = "the model is on " + device.str() + ", not on a CUDA device";
    return nullptr;
  }
  const c10::cuda::CUDAGuard device_guard(device);
  // Capture needs a stream other than the default one; it first waits for the work queued so far.
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream();
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAEvent queued;
  queued.record(caller);
  queued.block(side);
  auto captured = std::make_unique<CudaGraphStep>();
  std::string error;
  {
    const c10::cuda::CUDAStreamGuard stream_guard(side);
    try {
      for (int i = 0; i < warmup; ++i) step();
      side.synchronize();
    } catch (const std::exception& e) {
      *why_not = "the step failed before capture: " + first_line(e.what());
      return nullptr;
    }
    captured->graph.capture_begin();
    try {
      captured->output = step();
    } catch (const std::exception& e) {
      error = first_line(e.what());
    }
    try {
      captured->graph.capture_end();  // also ends a capture the step broke off
    } catch (const std::exception& e) {
      if (error.empty()) error = first_line(e.what());
    }
  }
  if (!error.empty()) {
    (void)cudaGetLastError();  // not sticky: clear it
    *why_not = "an operation of the step cannot be captured: " + error;
    return nullptr;
  }
  side.synchronize();
  return captured;
}

}  // namespace generation
}  // namespace xlstm
