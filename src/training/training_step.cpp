#include "training_step.h"

#include "xlstm/components/autocast.h"

#include <tuple>

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

TrainingStep::TrainingStep(LanguageModel& model, torch::optim::AdamW& optimizer,
                           LinearWarmupCosineAnnealing& scheduler,
                           const std::vector<torch::Tensor>& parameters, double grad_clip,
                           AutocastSettings autocast, DataParallelism parallelism)
    : model_(model),
      optimizer_(optimizer),
      scheduler_(scheduler),
      parameters_(parameters),
      grad_clip_(grad_clip),
      autocast_(autocast),
      parallelism_(std::move(parallelism)),
      gradient_sync_(parallelism_.communicator, parameters) {}

TrainingStep::Result TrainingStep::run(const Batch& share, SequenceAccuracy& accuracy) {
  optimizer_.zero_grad();
  torch::Tensor loss, targets;
  if (parallelism_.plain()) {
    loss = forward_loss(model_, share, autocast_, accuracy);
    loss.backward();
    loss = loss.detach();
    targets = share.targets.ne(kIgnoreIndex).sum();
  } else {
    std::tie(loss, targets) = accumulate(share, accuracy);
  }
  if (grad_clip_ > 0) clip_grad_norm(parameters_, grad_clip_);
  if (parallelism_.sharding)
    parallelism_.sharding->step(optimizer_);
  else
    optimizer_.step();
  const double lr = scheduler_.last_lr();
  scheduler_.step();
  return {loss, targets, lr};
}

std::pair<torch::Tensor, torch::Tensor> TrainingStep::accumulate(const Batch& share,
                                                                 SequenceAccuracy& accuracy) {
  Communicator& communicator = *parallelism_.communicator;
  const auto device = parameters_.front().device();
  // The global batch's target count: one all-reduce per step.
  auto targets = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
  if (share.size() > 0) targets += share.targets.ne(kIgnoreIndex).sum().to(device);
  communicator.all_reduce_sum({targets});
  const auto global_targets = targets.to(torch::kFloat);

  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device));
  const int micro_steps = parallelism_.accumulation_steps;
  for (int micro = 0; micro < micro_steps; ++micro) {
    gradient_sync_.begin_backward(/*sync=*/micro == micro_steps - 1);
    const auto range = share_of_batch(0, share.size(), micro_steps, micro);
    if (range.size == 0) continue;  // finish() still takes part in every bucket's all-reduce
    const auto batch = share.narrow(range.first, range.size);
    torch::Tensor loss;
    {
      CudaAutocast autocast_region(autocast_.enabled, autocast_.dtype);
      const auto logits = model_.forward(batch.inputs);
      loss = sequence_cross_entropy_sum(logits, batch.targets) / global_targets;
      accuracy.update(logits.detach(), batch.targets);
    }
    loss.backward();
    loss_sum += loss.detach();
  }
  gradient_sync_.finish();
  return {loss_sum, targets};
}

}  // namespace xlstm
