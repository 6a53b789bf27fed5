// Builds the README block stack from a YAML string and runs it once.
#include <iostream>

#include <xlstm/xlstm.h>

int main() {
  auto config = xlstm::from_yaml_string<xlstm::xLSTMBlockStackConfig>(R"(
mlstm_block:
  mlstm:
    num_heads: 2
context_length: 8
num_blocks: 1
embedding_dim: 16
)");
  xlstm::xLSTMBlockStack stack(config);
  auto y = stack->forward(torch::randn({1, 8, 16}));
  std::cout << "consumer output " << y.sizes() << "\n";
  return y.sizes() == torch::IntArrayRef({1, 8, 16}) ? 0 : 1;
}
