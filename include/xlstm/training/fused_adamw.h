// AdamW whose step is one fused multi-tensor kernel per parameter group on CUDA, as
// torch.optim.AdamW(fused=True): at::_fused_adamw_ (LibTorch 2.x). The state stays
// torch::optim::AdamWParamState, so checkpoints and the ZeRO sharding treat it as AdamW and a state
// saved by one loads into the other.
#pragma once

#include <torch/torch.h>

#include <unordered_map>

namespace xlstm {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;

  /// The fused step where it applies (fused_step_applies), else AdamW's.
  torch::Tensor step(LossClosure closure = nullptr) override;

  /// Whether this build has the fused op (LibTorch 2.x).
  static bool fused_op_available();
  /// Whether the next step runs fused: the op is available, every parameter is on one CUDA
  /// device, and those with a gradient are float32 / bf16 / fp16 (one dtype per group) with dense
  /// gradients of their dtype. Otherwise step() is torch::optim::AdamW's (the same update, one op at a time).
  bool fused_step_applies() const;

 private:
  struct DeviceStep {
    torch::Tensor count;  // float32 on the parameter's device: the fused op reads the step there
    int64_t host_count;   // the state's step it holds (a loaded state makes them differ)
  };
  void fused_group_step(torch::optim::OptimizerParamGroup& group);

  std::unordered_map<const void*, DeviceStep> device_steps_;
};

}  // namespace xlstm
