#include "training_step.h"

#include "autocast.h"

namespace xlstm {
namespace {

/// Scales the gradients so that their global L2 norm is at most `max_norm`, without a host sync
/// (torch::nn::utils::clip_grad_norm_ returns the norm as a double, which waits for the device).
void clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2).to(torch::kFloat));
  if (norms.empty()) return;
  const auto total = torch::stack(norms).norm(2);
  const auto scale = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (const auto& p : parameters)
    if (p.grad().defined()) p.grad().detach().mul_(scale.to(p.grad().scalar_type()));
}

}  // namespace

torch::Tensor forward_loss(LanguageModel& model, const Batch& batch,
                           const AutocastSettings& autocast, SequenceAccuracy& accuracy) {
  CudaAutocast autocast_region(autocast.enabled, autocast.dtype);
  const auto logits = model.forward(batch.inputs);
  auto loss = sequence_cross_entropy(logits, batch.targets);
  accuracy.update(logits.detach(), batch.targets);
  return loss;
}

TrainingStep::TrainingStep(LanguageModel& model, torch::optim::Optimizer& optimizer,
                           LinearWarmupCosineAnnealing& scheduler,
                           const std::vector<torch::Tensor>& parameters, double grad_clip,
                           AutocastSettings autocast)
    : model_(model),
      optimizer_(optimizer),
      scheduler_(scheduler),
      parameters_(parameters),
      grad_clip_(grad_clip),
      autocast_(autocast) {}

TrainingStep::Result TrainingStep::run(const Batch& batch, SequenceAccuracy& accuracy) {
  optimizer_.zero_grad();
  const auto loss = forward_loss(model_, batch, autocast_, accuracy);
  loss.backward();
  if (grad_clip_ > 0) clip_grad_norm(parameters_, grad_clip_);
  optimizer_.step();
  const double lr = scheduler_.last_lr();
  scheduler_.step();
  return {loss.detach(), lr};
}

}  // namespace xlstm
