// xlstm-run: runs a block stack or LM model (from its YAML config) on the tensor `input` of a
// safetensors file and writes the tensor `output`.
#include <CLI/CLI.hpp>

#include <iostream>

#include <xlstm/components/dtype.h>
#include <xlstm/xlstm.h>

#include "model_kinds.h"

int main(int argc, char** argv) {
  CLI::App app{"xlstm-run: run an xLSTM block stack or LM model on a safetensors input"};
  std::string config, weights, input_path, output_path,
      mode = "forward", device = "cpu", dtype = "float32", prefix, input_key = "input",
      kind = "auto";
  bool non_strict = false;
  std::vector<std::string> assignments;
  app.add_option("--config", config, "model config YAML (an LM model if it has vocab_size)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--kind", kind,
                 "what the config holds (auto: an experiment if it has `model`, an LM model if "
                 "it has `vocab_size`, else a block stack)")
      ->check(CLI::IsMember(xlstm::apps::model_kind_choices()));
  app.add_option("--set", assignments,
                 "key.path=value: override a value of the config before the model is built "
                 "(repeatable), e.g. --set slstm_block.slstm.backend=cuda");
  app.add_option("--weights", weights, "weights (.safetensors or a torch.save'd state_dict .pt)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--weights-prefix", prefix,
                 "only load weights whose name starts with this prefix "
                 "(removed from the name), e.g. 'state.'");
  app.add_flag("--non-strict", non_strict, "load the weights that match, report the others");
  app.add_option("--input", input_path, "safetensors file with the input tensor")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--input-key", input_key, "name of the input tensor");
  app.add_option("--output", output_path, "safetensors file to write the tensor 'output' to")
      ->required();
  app.add_option("--mode", mode, "forward (parallel), step (one position at a time) or chunkwise")
      ->check(CLI::IsMember({"forward", "step", "chunkwise"}));
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--dtype", dtype, "compute dtype")->check(CLI::IsMember(xlstm::dtype_names()));
  CLI11_PARSE(app, argc, argv);

  try {
    TORCH_CHECK(device != "cuda" || torch::cuda::is_available(),
                "--device cuda: no CUDA device is available to this process");
    std::vector<xlstm::ConfigOverride> overrides;
    for (const auto& assignment : assignments)
      overrides.push_back(xlstm::ConfigOverride::parse(assignment));
    auto model = xlstm::apps::build_model(config, kind, overrides);
    auto tensors = xlstm::io::read_weights(weights);
    if (!prefix.empty()) tensors = xlstm::io::strip_prefix(tensors, prefix);
    const auto report = xlstm::io::load_state_dict(model->module(), tensors, !non_strict);
    if (!report.ok()) std::cerr << "xlstm-run: " << report.summary() << "\n";

    const auto inputs = xlstm::io::load_safetensors(input_path);
    auto found = inputs.find(input_key);
    TORCH_CHECK(found != inputs.end(), input_path, " has no tensor '", input_key, "'");
    const torch::Device target(device);
    const auto compute = xlstm::dtype_from_name(dtype);
    model->module().to(target, compute);
    model->module().eval();
    auto input = found->second.to(target);
    if (!model->takes_tokens()) input = input.to(compute);

    torch::NoGradGuard no_grad;
    torch::Tensor output = mode == "step"        ? model->step_sequence(input)
                           : mode == "chunkwise" ? model->forward_with_state(input).first
                                                 : model->forward(input);
    xlstm::io::save_safetensors(output_path,
                                {{"output", output.to(torch::kCPU).to(torch::kFloat)}});
    std::cout << "xlstm-run: " << mode << " " << input.sizes() << " -> " << output.sizes() << " on "
              << device << " (" << dtype << "), wrote " << output_path << "\n";
  } catch (const std::exception& e) {
    std::cerr << "xlstm-run: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
