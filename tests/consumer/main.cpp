// Uses the installed package as an application would: builds the official fixture's block stack
// from its YAML, loads its weights and checks the forward and the step loop against the output
// that the official package computed. Usage: consumer FIXTURE_DIR (tests/data/reference/<case>).
#include <iostream>

#include <xlstm/io/safetensors.h>
#include <xlstm/io/state_dict.h>
#include <xlstm/xlstm.h>

/// max |a - b| / max |b|
double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer FIXTURE_DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  auto config = xlstm::from_yaml_file<xlstm::xLSTMBlockStackConfig>(dir + "/config.yaml");
  xlstm::xLSTMBlockStack stack(config);
  const auto tensors = xlstm::io::load_safetensors(dir + "/tensors.safetensors");
  xlstm::io::load_state_dict(*stack, xlstm::io::strip_prefix(tensors, "state."));
  stack->eval();
  torch::NoGradGuard no_grad;
  const auto& x = tensors.at("input");
  const double forward = max_rel_diff(stack->forward(x), tensors.at("output"));
  std::vector<torch::Tensor> steps;
  xlstm::xLSTMBlockStackState state;
  for (int64_t t = 0; t < x.size(1); ++t) {
    auto [y, next] = stack->step(x.narrow(1, t, 1), state);
    steps.push_back(y);
    state = std::move(next);
  }
  const double step = max_rel_diff(torch::cat(steps, 1), tensors.at("step_output"));
  std::cout << "consumer: " << dir << ": forward " << forward << ", step " << step
            << " (max relative difference from the official output)\n";
  return forward <= 1e-5 && step <= 1e-5 ? 0 : 1;
}
