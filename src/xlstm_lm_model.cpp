#include "xlstm/xlstm_lm_model.h"

#include <unordered_set>

#include "xlstm/components/dtype.h"
#include "xlstm/components/init.h"

namespace xlstm {

xLSTMLMModelImpl::xLSTMLMModelImpl(xLSTMLMModelConfig cfg) : config(std::move(cfg)) {
  config.finalize();
  xlstm_block_stack = register_module("xlstm_block_stack", xLSTMBlockStack(config));
  token_embedding = register_module(
      "token_embedding",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(config.vocab_size, config.embedding_dim)));
  if (config.add_embedding_dropout) {
    emb_dropout = register_module("emb_dropout", torch::nn::Dropout(config.dropout));
  }
  lm_head = register_module("lm_head", std::make_shared<torch::nn::Module>());
  lm_head_weight = lm_head->register_parameter(
      "weight", config.tie_weights ? token_embedding->weight
                                   : torch::empty({config.vocab_size, config.embedding_dim}));
  reset_parameters();
}

torch::Tensor xLSTMLMModelImpl::embed(const torch::Tensor& idx) {
  TORCH_CHECK(idx.dim() == 2 && idx.scalar_type() == torch::kLong,
              "xLSTMLMModel: expected int64 token ids [B, S], got ", idx.scalar_type(), " ",
              idx.sizes());
  auto x = token_embedding->forward(idx);
  return emb_dropout.is_empty() ? x : emb_dropout->forward(x);
}

torch::Tensor xLSTMLMModelImpl::head(const torch::Tensor& x) {
  const torch::Tensor input = x.to(compute_dtype(x));  // float16 on the CPU runs in float32
  return torch::linear(input, lm_head_weight.to(input.scalar_type())).to(x.scalar_type());
}

torch::Tensor xLSTMLMModelImpl::forward(const torch::Tensor& idx) {
  return head(xlstm_block_stack->forward(embed(idx)));
}

std::pair<torch::Tensor, xLSTMBlockStackState> xLSTMLMModelImpl::forward_with_state(
    const torch::Tensor& idx, const xLSTMBlockStackState& state) {
  auto [x, next] = xlstm_block_stack->forward_with_state(embed(idx), state);
  return {head(x), std::move(next)};
}

std::pair<torch::Tensor, xLSTMBlockStackState> xLSTMLMModelImpl::last_logits_with_state(
    const torch::Tensor& idx, const xLSTMBlockStackState& state) {
  TORCH_CHECK(idx.dim() == 2 && idx.size(1) > 0,
              "xLSTMLMModel: expected token ids [B, S] with S > 0, got ", idx.sizes());
  auto [x, next] = xlstm_block_stack->forward_with_state(embed(idx), state);
  return {head(x.narrow(1, x.size(1) - 1, 1)), std::move(next)};
}

std::pair<torch::Tensor, xLSTMBlockStackState> xLSTMLMModelImpl::step(
    const torch::Tensor& idx, const xLSTMBlockStackState& state) {
  auto [x, next] = xlstm_block_stack->step(embed(idx), state);
  return {head(x), std::move(next)};
}

torch::Tensor xLSTMLMModelImpl::step_in_place(const torch::Tensor& idx,
                                              const xLSTMBlockStackState& state) {
  return head(xlstm_block_stack->step_in_place(embed(idx), state));
}

void xLSTMLMModelImpl::reset_parameters() {
  xlstm_block_stack->reset_parameters();
  small_init_(token_embedding->weight, config.embedding_dim);
  if (!config.tie_weights) small_init_(lm_head_weight, config.embedding_dim);
}

std::vector<std::pair<std::string, torch::Tensor>> xLSTMLMModelImpl::unique_named_parameters()
    const {
  std::vector<std::pair<std::string, torch::Tensor>> unique;
  std::unordered_set<const void*> seen;
  for (const auto& item : named_parameters()) {
    if (seen.insert(item.value().unsafeGetTensorImpl()).second) {
      unique.emplace_back(item.key(), item.value());
    }
  }
  return unique;
}

WeightDecayGroups xLSTMLMModelImpl::weight_decay_groups() const {
  WeightDecayGroups groups;
  auto add = [](std::vector<torch::Tensor>& params, std::vector<std::string>& names,
                const std::string& name, const torch::Tensor& p) {
    params.push_back(p);
    names.push_back(name);
  };
  const auto* embedding = token_embedding->weight.unsafeGetTensorImpl();
  for (const auto& [name, param] : unique_named_parameters()) {
    if (!param.requires_grad() || param.unsafeGetTensorImpl() == embedding) continue;
    const bool decay =
        name.find("weight") != std::string::npos && name.find("norm") == std::string::npos;
    if (decay) {
      add(groups.weight_decay, groups.weight_decay_names, name, param);
    } else {
      add(groups.no_weight_decay, groups.no_weight_decay_names, name, param);
    }
  }
  if (config.weight_decay_on_embedding) {
    add(groups.weight_decay, groups.weight_decay_names, "token_embedding.weight",
        token_embedding->weight);
  } else {
    add(groups.no_weight_decay, groups.no_weight_decay_names, "token_embedding.weight",
        token_embedding->weight);
  }
  return groups;
}

}  // namespace xlstm
