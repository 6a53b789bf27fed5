#include "xlstm/generation/step_graph.h"

#include <atomic>
#include <iostream>

namespace xlstm {
namespace generation {

#ifndef XLSTM_WITH_CUDA
std::unique_ptr<CapturedStep> capture_cuda_graph(const std::function<torch::Tensor()>&,
                                                 const torch::Device&, int, std::string* why_not) {
  *why_not = "this build of xlstm has no CUDA";
  return nullptr;
}
#endif

void note_once(const std::string& message) {
  static std::atomic<bool> said{false};
  if (!said.exchange(true)) std::cerr << "xlstm: " << message << std::endl;
}

}  // namespace generation
}  // namespace xlstm
