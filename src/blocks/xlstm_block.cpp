#include "xlstm/blocks/xlstm_block.h"

namespace xlstm {
namespace {
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

template <class State>
const State& expect_state(const BlockState& state, const char* kind) {
  static const State empty;
  if (std::holds_alternative<std::monostate>(state)) return empty;
  TORCH_CHECK(std::holds_alternative<State>(state), "xLSTMBlock: expected an ", kind,
              " state for this block, got a state of the other block kind");
  return std::get<State>(state);
}
}  // namespace

BlockState block_state_to(const BlockState& state, torch::Device device,
                          c10::optional<torch::ScalarType> dtype) {
  return std::visit(Overloaded{[](std::monostate) { return BlockState{}; },
                               [&](const auto& s) { return BlockState{s.to(device, dtype)}; }},
                    state);
}

BlockState block_state_detach(const BlockState& state) {
  return std::visit(Overloaded{[](std::monostate) { return BlockState{}; },
                               [](const auto& s) { return BlockState{s.detach()}; }},
                    state);
}

xLSTMBlockImpl::xLSTMBlockImpl(xLSTMBlockConfig cfg) : config(std::move(cfg)) {
  config.finalize();
  const int64_t dim = config.embedding_dim();
  xlstm_norm =
      register_module("xlstm_norm", LayerNorm(LayerNormOptions(dim).weight(true).bias(false)));
  if (config.mlstm) {
    mlstm_layer = register_module("xlstm", mLSTMLayer(*config.mlstm));
  } else {
    slstm_layer = register_module("xlstm", sLSTMLayer(*config.slstm));
  }
  if (config.feedforward) {
    ffn_norm =
        register_module("ffn_norm", LayerNorm(LayerNormOptions(dim).weight(true).bias(false)));
    ffn = register_module("ffn", GatedFeedForward(*config.feedforward));
  }
  reset_parameters();
}

torch::Tensor xLSTMBlockImpl::feedforward_residual(const torch::Tensor& x) {
  if (ffn.is_empty()) return x;
  return x + ffn->forward(ffn_norm->forward(x));
}

torch::Tensor xLSTMBlockImpl::forward(const torch::Tensor& x) {
  const auto normed = xlstm_norm->forward(x);
  const auto mixed = is_mlstm() ? mlstm_layer->forward(normed) : slstm_layer->forward(normed);
  return feedforward_residual(x + mixed);
}

template <class Call>
std::pair<torch::Tensor, BlockState> xLSTMBlockImpl::mix_with_state(const torch::Tensor& x,
                                                                    const BlockState& state,
                                                                    Call call) {
  const auto normed = xlstm_norm->forward(x);
  auto run = [&](auto& layer, const auto& layer_state) {
    auto [y, next] = call(layer, normed, layer_state);
    return std::pair<torch::Tensor, BlockState>{feedforward_residual(x + y), std::move(next)};
  };
  if (is_mlstm()) return run(mlstm_layer, expect_state<mLSTMState>(state, "mLSTM"));
  return run(slstm_layer, expect_state<sLSTMState>(state, "sLSTM"));
}

std::pair<torch::Tensor, BlockState> xLSTMBlockImpl::forward_with_state(const torch::Tensor& x,
                                                                        const BlockState& state) {
  return mix_with_state(x, state, [](auto& layer, const torch::Tensor& in, const auto& s) {
    return layer->forward_with_state(in, s);
  });
}

std::pair<torch::Tensor, BlockState> xLSTMBlockImpl::step(const torch::Tensor& x,
                                                          const BlockState& state) {
  return mix_with_state(x, state, [](auto& layer, const torch::Tensor& in, const auto& s) {
    return layer->step(in, s);
  });
}

torch::Tensor xLSTMBlockImpl::step_in_place(const torch::Tensor& x, const BlockState& state) {
  TORCH_CHECK(!std::holds_alternative<std::monostate>(state),
              "xLSTMBlock::step_in_place: the state must be preallocated, got the zero state");
  return mix_with_state(x, state,
                        [](auto& layer, const torch::Tensor& in, const auto& s) {
                          return std::pair{layer->step_in_place(in, s), s};
                        })
      .first;
}

void xLSTMBlockImpl::reset_parameters() {
  if (is_mlstm()) {
    mlstm_layer->reset_parameters();
  } else {
    slstm_layer->reset_parameters();
  }
  xlstm_norm->reset_parameters();
  if (!ffn.is_empty()) {
    ffn->reset_parameters();
    ffn_norm->reset_parameters();
  }
}

}  // namespace xlstm
