// A model step captured once as a CUDA graph and replayed per token: one graph launch instead of
// hundreds of kernel launches from the host. Only builds with CUDA capture; elsewhere, and where
// an operation cannot be captured, the caller falls back to the plain step.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace xlstm {
namespace generation {

/// A captured step.
class CapturedStep {
 public:
  virtual ~CapturedStep() = default;
  /// Runs the captured step on the current stream and returns its output: the same tensor every
  /// replay, overwritten by the next one.
  virtual const torch::Tensor& replay() = 0;
};

/// Captures `step` as a CUDA graph on `device`. `step` must read and write only tensors that
/// outlive the graph (a static input, a preallocated state) besides its own temporaries, and return
/// its output. It runs `warmup` times first, outside the graph (libraries allocate their workspaces
/// then), so it should leave the state as it found it or the caller restore it. Returns null, with
/// the reason in `why_not`, when capture is impossible: not a CUDA device, a build without CUDA, or
/// an operation that cannot be captured (the CUDA error is cleared).
std::unique_ptr<CapturedStep> capture_cuda_graph(const std::function<torch::Tensor()>& step,
                                                 const torch::Device& device, int warmup,
                                                 std::string* why_not);

/// Prints "xlstm: <message>" on stderr the first time it is called in the process.
void note_once(const std::string& message);

}  // namespace generation
}  // namespace xlstm
