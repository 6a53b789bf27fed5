// The Python README's xLSTMBlockStack snippet in C++: the README config, a [4, 256, 128] input, an
// output of the same shape. Usage: backbone [CONFIG] (default: configs/readme_stack.yaml).
#include <iostream>

#include <xlstm/xlstm.h>

#include "error_report.h"

int main(int argc, char** argv) {
  const std::string path =
      argc > 1 ? argv[1] : std::string(XLSTM_SOURCE_DIR) + "/configs/readme_stack.yaml";
  return xlstm::apps::run_main("backbone", [&] {
    auto cfg = xlstm::from_yaml_file<xlstm::xLSTMBlockStackConfig>(path);
    xlstm::xLSTMBlockStack xlstm_stack(cfg);  // backend "cuda" runs as "vanilla" on the CPU

    auto x = torch::randn({4, 256, 128});
    auto y = xlstm_stack->forward(x);
    std::cout << "xLSTMBlockStack " << cfg._block_map << ": " << x.sizes() << " -> " << y.sizes()
              << "\n";
    return y.sizes() == x.sizes() ? 0 : 1;
  });
}
