#include "xlstm/blocks/mlstm/cell.h"

#include <gtest/gtest.h>

#include "support/tensor_compare.h"

namespace xlstm {
namespace {

using test::max_rel_diff;

mLSTMCell make_cell(int context_length, int dim, int heads) {
  mLSTMCellConfig config;
  config.context_length = context_length;
  config.embedding_dim = dim;
  config.num_heads = heads;
  return mLSTMCell(config);
}

TEST(mLSTMCell, ParametersMaskAndInit) {
  torch::manual_seed(0);
  auto cell = make_cell(16, 32, 4);
  std::vector<std::string> names;
  for (const auto& item : cell->named_parameters()) names.push_back(item.key());
  EXPECT_EQ(names, (std::vector<std::string>{"igate.weight", "igate.bias", "fgate.weight",
                                             "fgate.bias", "outnorm.weight"}));
  EXPECT_TRUE(cell->named_buffers().is_empty());  // the causal mask is not persistent
  EXPECT_EQ(cell->causal_mask.sizes(), (std::vector<int64_t>{16, 16}));
  EXPECT_EQ(cell->igate->weight.sizes(), (std::vector<int64_t>{4, 96}));

  EXPECT_EQ(cell->fgate->weight.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(cell->igate->weight.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(cell->outnorm->weight.abs().sum().item<double>(), 0.0);
  const std::vector<float> fgate_bias = {3.0f, 4.0f, 5.0f, 6.0f};
  for (int h = 0; h < 4; ++h) EXPECT_EQ(cell->fgate->bias[h].item<float>(), fgate_bias[h]);

  auto wide = make_cell(4, 512, 512);
  EXPECT_NEAR(wide->igate->bias.std().item<double>(), 0.1, 0.015);
}

TEST(mLSTMCell, LongSequencesUseChunkwiseAndStepsMatch) {
  torch::manual_seed(1);
  auto short_cell = make_cell(8, 16, 2);
  auto long_cell = make_cell(64, 16, 2);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : short_cell->parameters()) p.normal_(0.0, 0.3);
    const auto src = short_cell->named_parameters();
    for (auto& item : long_cell->named_parameters()) item.value().copy_(src[item.key()]);
  }
  short_cell->chunk_size = 4;
  const auto q = torch::randn({2, 21, 16}), k = torch::randn({2, 21, 16}),
             v = torch::randn({2, 21, 16});
  // S = 21 > context_length 8: chunkwise; equals the parallel form of a longer context.
  const auto chunked = short_cell(q, k, v);
  const auto parallel = long_cell(q, k, v);
  ASSERT_EQ(chunked.sizes(), q.sizes());
  EXPECT_LT(max_rel_diff(chunked, parallel), 1e-5);

  const auto [with_state, final_state] = short_cell->forward_with_state(q, k, v);
  mlstm::CellState state;
  std::vector<torch::Tensor> outputs;
  for (int64_t t = 0; t < 21; ++t) {
    auto [h, next] =
        short_cell->step(q.narrow(1, t, 1), k.narrow(1, t, 1), v.narrow(1, t, 1), state);
    outputs.push_back(h);
    state = next;
  }
  EXPECT_LT(max_rel_diff(torch::cat(outputs, 1), with_state), 1e-5);
  EXPECT_LT(max_rel_diff(state.C, final_state.C), 1e-5);
  EXPECT_LT(max_rel_diff(with_state, parallel), 1e-4);
}

TEST(mLSTMCell, EveryBackendComputesTheSame) {
  torch::manual_seed(2);
  mLSTMCell by_backend[3] = {make_cell(16, 16, 2), make_cell(16, 16, 2), make_cell(16, 16, 2)};
  by_backend[1]->config.backend = "parallel";
  by_backend[2]->config.backend = "chunkwise";
  by_backend[2]->chunk_size = 4;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : by_backend[0]->parameters()) p.normal_(0.0, 0.3);
    for (int b = 1; b < 3; ++b) {
      const auto src = by_backend[0]->named_parameters();
      for (auto& item : by_backend[b]->named_parameters()) item.value().copy_(src[item.key()]);
    }
  }
  // S = 11 and S = 19: within and beyond context_length (the parallel form then builds its own
  // causal mask).
  for (const int64_t seq : {11, 19}) {
    const auto q = torch::randn({2, seq, 16}), k = torch::randn({2, seq, 16}),
               v = torch::randn({2, seq, 16});
    const auto automatic = by_backend[0](q, k, v);
    EXPECT_LT(max_rel_diff(by_backend[1](q, k, v), automatic), 1e-5) << "S = " << seq;
    EXPECT_LT(max_rel_diff(by_backend[2](q, k, v), automatic), 1e-5) << "S = " << seq;
  }
}

TEST(mLSTMCell, RejectsBadShapes) {
  auto cell = make_cell(8, 16, 2);
  const auto x = torch::randn({2, 3, 16});
  EXPECT_THROW(cell(x, x, torch::randn({2, 3, 8})), c10::Error);
  EXPECT_THROW(cell(torch::randn({3, 16}), torch::randn({3, 16}), torch::randn({3, 16})),
               c10::Error);
  EXPECT_THROW(cell->step(x, x, x), c10::Error);
}

}  // namespace
}  // namespace xlstm
