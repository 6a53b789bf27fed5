// The Python README's xLSTMLMModel snippet in C++: the README LM config, token ids [B, S] in,
// logits [B, S, vocab_size] out, then a few tokens generated greedily with step(). Usage: lm-model
// [CONFIG] (default: configs/readme_lm.yaml).
#include <iostream>

#include <xlstm/xlstm.h>

#include "error_report.h"

int main(int argc, char** argv) {
  const std::string path =
      argc > 1 ? argv[1] : std::string(XLSTM_SOURCE_DIR) + "/configs/readme_lm.yaml";
  return xlstm::apps::run_main("lm-model", [&] {
    auto cfg = xlstm::from_yaml_file<xlstm::xLSTMLMModelConfig>(path);
    xlstm::xLSTMLMModel model(cfg);
    model->eval();
    torch::NoGradGuard no_grad;

    auto idx = torch::randint(cfg.vocab_size, {4, 256}, torch::kLong);
    auto logits = model->forward(idx);
    std::cout << "xLSTMLMModel: ids " << idx.sizes() << " -> logits " << logits.sizes() << "\n";

    // Greedy generation: run a 16-token prompt with forward_with_state, then feed each predicted
    // token back in through step().
    auto [prompt_logits, state] = model->forward_with_state(idx.narrow(1, 0, 16));
    auto next = prompt_logits.narrow(1, 15, 1);
    std::vector<int64_t> generated;
    for (int i = 0; i < 8; ++i) {
      auto token = next.argmax(-1);  // [B, 1]
      generated.push_back(token[0][0].item<int64_t>());
      std::tie(next, state) = model->step(token, state);
    }
    // forward_with_state's prompt logits are the forward's logits of those positions.
    const auto reference = logits.narrow(1, 0, 16);
    const double difference =
        ((prompt_logits - reference).abs().max() / reference.abs().max()).item<double>();
    std::cout << "forward_with_state vs forward over the prompt: max relative difference "
              << difference << "\n";
    if (difference >= 1e-4) return 1;
    std::cout << "generated:";
    for (auto t : generated) std::cout << " " << t;
    std::cout << "\n";
    return logits.sizes() == torch::IntArrayRef({4, 256, cfg.vocab_size}) ? 0 : 1;
  });
}
