// The model side of the trainer: any language model that maps int64 token ids [B, S] to logits
// [B, S, V]. ModuleLanguageModel adapts a TORCH_MODULE holder such as xLSTMLMModel.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "xlstm/xlstm_lm_model.h"  // WeightDecayGroups

namespace xlstm {

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  /// Token ids [B, S] (int64) -> logits [B, S, vocab_size].
  virtual torch::Tensor forward(const torch::Tensor& tokens) = 0;
  /// The module: train()/eval(), to(device, dtype), its weights for checkpoints.
  virtual torch::nn::Module& module() = 0;
  /// The AdamW groups with and without weight decay (each parameter once).
  virtual WeightDecayGroups weight_decay_groups() const = 0;
  /// The named parameters, a tied weight under its first name only.
  virtual std::vector<std::pair<std::string, torch::Tensor>> unique_named_parameters() const = 0;

  std::vector<torch::Tensor> parameters() { return module().parameters(); }
};

/// A LanguageModel of a module holder whose module has forward(tokens), weight_decay_groups() and
/// unique_named_parameters().
template <class Holder>
class ModuleLanguageModel final : public LanguageModel {
 public:
  explicit ModuleLanguageModel(Holder holder) : holder_(std::move(holder)) {}

  torch::Tensor forward(const torch::Tensor& tokens) override { return holder_->forward(tokens); }
  torch::nn::Module& module() override { return *holder_; }
  WeightDecayGroups weight_decay_groups() const override { return holder_->weight_decay_groups(); }
  std::vector<std::pair<std::string, torch::Tensor>> unique_named_parameters() const override {
    return holder_->unique_named_parameters();
  }

 private:
  Holder holder_;
};

}  // namespace xlstm
