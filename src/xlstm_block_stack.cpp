#include "xlstm/xlstm_block_stack.h"

namespace xlstm {

xLSTMBlockStackState xLSTMBlockStackState::to(torch::Device device,
                                              c10::optional<torch::ScalarType> dtype) const {
  xLSTMBlockStackState moved;
  for (const auto& block : blocks) moved.blocks.push_back(block_state_to(block, device, dtype));
  return moved;
}

xLSTMBlockStackState xLSTMBlockStackState::detach() const {
  xLSTMBlockStackState detached;
  for (const auto& block : blocks) detached.blocks.push_back(block_state_detach(block));
  return detached;
}

xLSTMBlockStackImpl::xLSTMBlockStackImpl(xLSTMBlockStackConfig cfg) : config(std::move(cfg)) {
  config.finalize();
  auto list = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < config.num_blocks; ++i) {
    blocks.emplace_back(config.block_config(i));
    list->push_back(blocks.back());
  }
  if (config.add_post_blocks_norm) {
    post_blocks_norm = register_module("post_blocks_norm", LayerNorm(config.embedding_dim));
  }
}

torch::Tensor xLSTMBlockStackImpl::post_norm(const torch::Tensor& x) {
  return post_blocks_norm.is_empty() ? x : post_blocks_norm->forward(x);
}

torch::Tensor xLSTMBlockStackImpl::forward(const torch::Tensor& x) {
  auto h = x;
  for (auto& block : blocks) h = block->forward(h);
  return post_norm(h);
}

template <class Call>
std::pair<torch::Tensor, xLSTMBlockStackState> xLSTMBlockStackImpl::run_blocks(
    const torch::Tensor& x, const xLSTMBlockStackState& state, Call call) {
  TORCH_CHECK(state.empty() || state.blocks.size() == blocks.size(),
              "xLSTMBlockStack: the state holds ", state.blocks.size(),
              " block states but the stack has ", blocks.size(), " blocks");
  xLSTMBlockStackState next;
  auto h = x;
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto [y, block_state] = call(blocks[i], h, state.empty() ? BlockState{} : state.blocks[i]);
    h = std::move(y);
    next.blocks.push_back(std::move(block_state));
  }
  return {post_norm(h), std::move(next)};
}

std::pair<torch::Tensor, xLSTMBlockStackState> xLSTMBlockStackImpl::forward_with_state(
    const torch::Tensor& x, const xLSTMBlockStackState& state) {
  return run_blocks(x, state, [](xLSTMBlock& block, const torch::Tensor& h, const BlockState& s) {
    return block->forward_with_state(h, s);
  });
}

std::pair<torch::Tensor, xLSTMBlockStackState> xLSTMBlockStackImpl::step(
    const torch::Tensor& x, const xLSTMBlockStackState& state) {
  return run_blocks(x, state, [](xLSTMBlock& block, const torch::Tensor& h, const BlockState& s) {
    return block->step(h, s);
  });
}

torch::Tensor xLSTMBlockStackImpl::step_in_place(const torch::Tensor& x,
                                                 const xLSTMBlockStackState& state) {
  TORCH_CHECK(state.blocks.size() == blocks.size(),
              "xLSTMBlockStack::step_in_place: the state holds ", state.blocks.size(),
              " block states but the stack has ", blocks.size(), " blocks");
  auto h = x;
  for (size_t i = 0; i < blocks.size(); ++i) h = blocks[i]->step_in_place(h, state.blocks[i]);
  return post_norm(h);
}

void xLSTMBlockStackImpl::reset_parameters() {
  for (auto& block : blocks) block->reset_parameters();
  if (!post_blocks_norm.is_empty()) post_blocks_norm->reset_parameters();
}

}  // namespace xlstm
