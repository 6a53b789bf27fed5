// The Python README's xLSTMBlockStack snippet in C++: the README config, a [4, 256, 128] input, an
// output of the same shape; the first 16 positions stepped one by one must give the same output.
// Usage: backbone [CONFIG] (default: configs/readme_stack.yaml).
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
    if (y.sizes() != x.sizes()) return 1;

    // The recurrent form: step() over the first 16 positions equals the parallel forward there.
    torch::NoGradGuard no_grad;
    xlstm::xLSTMBlockStackState state;
    std::vector<torch::Tensor> stepped;
    for (int64_t t = 0; t < 16; ++t) {
      torch::Tensor y_t;
      std::tie(y_t, state) = xlstm_stack->step(x.narrow(1, t, 1), state);
      stepped.push_back(y_t);
    }
    const auto reference = y.narrow(1, 0, 16);
    const double difference =
        ((torch::cat(stepped, 1) - reference).abs().max() / reference.abs().max()).item<double>();
    std::cout << "step() over 16 positions vs forward: max relative difference " << difference
              << "\n";
    return difference < 1e-4 ? 0 : 1;
  });
}
