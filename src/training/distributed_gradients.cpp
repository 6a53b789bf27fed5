// GradientSync: bucketed gradient all-reduce started by hooks on the gradient accumulators.
//
// The c10d::Reducer of DDP needs headers Debian's LibTorch does not ship (distributed autograd), so
// this is the same scheme written over c10d collectives: each parameter's .grad is a view into a
// flat bucket, AccumulateGrad adds into it in place, and the post hook of the accumulator counts
// the bucket down; a bucket whose count reaches zero is all-reduced while backward continues.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <map>
#include <mutex>
#include <tuple>

#include "distributed_c10d.h"

namespace xlstm {

struct GradientSync::Impl {
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> members;  // parameter indices
    size_t pending = 0;           // members whose gradient this backward has not produced yet
    WorkHandle work;
  };

  std::shared_ptr<Communicator> communicator;
  std::vector<torch::Tensor> parameters;
  std::vector<torch::Tensor> views;  // views[i]: parameter i's gradient inside its bucket
  std::vector<size_t> bucket_of;
  std::vector<bool> produced;  // this backward
  std::vector<Bucket> buckets;
  // The accumulators carry the hooks; the parameters only hold them weakly.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::mutex mutex;
  bool syncing = false;
  size_t next_to_start = 0;  // buckets start in index order, so every rank starts the same ones
  size_t started_in_backward = 0;

  /// Hook of parameter `index`'s accumulator: its gradient for this backward is complete.
  void produced_gradient(size_t index) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!syncing || produced[index]) return;
    produced[index] = true;
    --buckets[bucket_of[index]].pending;
    while (next_to_start < buckets.size() && buckets[next_to_start].pending == 0) {
      start(next_to_start++);
      ++started_in_backward;
    }
  }

  void start(size_t index) {
    std::vector<torch::Tensor> list{buckets[index].flat};
    buckets[index].work = communicator->impl().group->allreduce(list);
  }

  /// Makes every parameter's .grad its bucket view again (an optimizer's zero_grad that sets the
  /// gradients to None, or any other assignment, replaced it).
  void bind_views() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters.size(); ++i) {
      auto& grad = parameters[i].mutable_grad();
      if (grad.defined() && grad.data_ptr() == views[i].data_ptr()) continue;
      if (grad.defined())
        views[i].copy_(grad);
      else
        views[i].zero_();
      grad = views[i];
    }
  }
};

namespace {

struct GradientProducedHook : torch::autograd::FunctionPostHook {
  GradientProducedHook(std::weak_ptr<GradientSync::Impl> sync, size_t index)
      : sync(std::move(sync)), index(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    if (const auto alive = sync.lock()) alive->produced_gradient(index);
    return outputs;
  }
  std::weak_ptr<GradientSync::Impl> sync;
  size_t index;
};

}  // namespace

GradientSync::GradientSync(std::shared_ptr<Communicator> communicator,
                           std::vector<torch::Tensor> parameters, GradientSyncOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->communicator = std::move(communicator);
  if (!impl_->communicator->has_group()) return;
  for (const auto& p : parameters)
    if (p.requires_grad()) impl_->parameters.push_back(p);
  auto& params = impl_->parameters;
  const size_t n = params.size();
  impl_->bucket_of.resize(n);
  impl_->produced.resize(n);
  impl_->views.resize(n);

  // Reverse order, one open bucket per (dtype, device), closed when the next gradient would not
  // fit any more.
  std::map<std::tuple<int, std::string>, size_t> open;  // -> bucket index
  std::vector<int64_t> bucket_bytes;
  for (size_t k = n; k-- > 0;) {
    const auto& p = params[k];
    const auto key = std::make_tuple(static_cast<int>(p.scalar_type()), p.device().str());
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    auto found = open.find(key);
    if (found == open.end() || bucket_bytes[found->second] + bytes > options.bucket_bytes) {
      impl_->buckets.emplace_back();
      bucket_bytes.push_back(0);
      found = open.insert_or_assign(key, impl_->buckets.size() - 1).first;
    }
    impl_->buckets[found->second].members.push_back(k);
    bucket_bytes[found->second] += bytes;
    impl_->bucket_of[k] = found->second;
  }
  for (auto& bucket : impl_->buckets) {
    int64_t total = 0;
    for (const auto k : bucket.members) total += params[k].numel();
    const auto& first = params[bucket.members.front()];
    bucket.flat = torch::zeros({total}, first.options().requires_grad(false));
    int64_t offset = 0;
    for (const auto k : bucket.members) {
      // An alias of the bucket's storage, not an autograd view: Optimizer::zero_grad may detach_()
      // it (LibTorch 1.13 does), which a view refuses.
      impl_->views[k] = torch::empty({0}, bucket.flat.options())
                            .set_(bucket.flat.storage(), offset, params[k].sizes(),
                                  c10::contiguous_strides(params[k].sizes()));
      offset += params[k].numel();
    }
  }
  impl_->bind_views();
  for (size_t k = 0; k < n; ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(params[k]);
    accumulator->add_post_hook(std::make_unique<GradientProducedHook>(impl_, k));
    impl_->accumulators.push_back(std::move(accumulator));
  }
}

GradientSync::~GradientSync() = default;

void GradientSync::begin_backward(bool sync) {
  if (!impl_->communicator->has_group()) return;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->bind_views();
  impl_->syncing = sync;
  if (!sync) return;
  std::fill(impl_->produced.begin(), impl_->produced.end(), false);
  for (auto& bucket : impl_->buckets) {
    bucket.pending = bucket.members.size();
    bucket.work.reset();
  }
  impl_->next_to_start = 0;
  impl_->started_in_backward = 0;
}

void GradientSync::finish() {
  if (!impl_->communicator->has_group()) return;
  std::vector<WorkHandle> works;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    TORCH_CHECK(impl_->syncing, "GradientSync::finish without begin_backward(true)");
    while (impl_->next_to_start < impl_->buckets.size()) impl_->start(impl_->next_to_start++);
    impl_->syncing = false;
    for (auto& bucket : impl_->buckets) works.push_back(std::move(bucket.work));
  }
  for (size_t b = 0; b < works.size(); ++b)
    impl_->communicator->impl().wait(works[b], "gradient all-reduce (bucket " + std::to_string(b) +
                                                   " of " + std::to_string(works.size()) + ")");
}

size_t GradientSync::bucket_count() const {
  return impl_->buckets.size();
}

size_t GradientSync::buckets_started_in_backward() const {
  return impl_->started_in_backward;
}

}  // namespace xlstm
