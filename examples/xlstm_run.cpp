// xlstm-run: runs a model on the tensor `input` of a safetensors file and writes the tensor
// `output`: a block stack, LM model or xLSTM-Large model from its YAML config and weights, or a
// checkpoint directory as downloaded (--model-dir: Hugging Face or official xLSTM-Large). The
// output never replaces an input (the config, the weights, the input, under any name) nor anything
// but a regular file. NaN or infinity in the weights or the input is refused, in the output
// reported with exit code 3, unless
// --allow-nonfinite.
#include <CLI/CLI.hpp>

#include <iostream>

#include <xlstm/components/dtype.h>
#include <xlstm/io/output_path.h>
#include <xlstm/xlstm.h>

#include "cli_options.h"
#include "error_report.h"
#include "large_model_kind.h"
#include "model_kinds.h"
#include "runtime_info.h"
#include "tensor_checks.h"

int main(int argc, char** argv) {
  CLI::App app{"xlstm-run: run an xLSTM model on a safetensors input"};
  std::string config, weights, model_dir, input_path, output_path,
      mode = "forward", device = "cpu", dtype = "float32", prefix, input_key = "input",
      kind = "auto";
  bool non_strict = false, allow_nonfinite = false;
  std::vector<std::string> assignments;
  auto* config_option = app.add_option("--config", config, "model config YAML (with --weights)")
                            ->check(CLI::ExistingFile);
  auto* dir_option =
      app.add_option("--model-dir", model_dir,
                     "an xLSTM-Large checkpoint directory (Hugging Face: config.json + "
                     "safetensors shards; official: config.yaml + model*.safetensors)")
          ->check(CLI::ExistingDirectory)
          ->excludes(config_option);
  app.add_option("--kind", kind,
                 "what the config holds (auto: an experiment if it has `model`, an LM model if "
                 "it has `vocab_size`, else a block stack)")
      ->check(CLI::IsMember(xlstm::apps::model_kind_choices()));
  app.add_option("--set", assignments,
                 "key.path=value: override a value of the config before the model is built "
                 "(repeatable), e.g. --set slstm_block.slstm.backend=cuda");
  app.add_option("--weights", weights,
                 "weights for --config (.safetensors or a torch.save'd state_dict .pt)")
      ->check(CLI::ExistingFile)
      ->needs(config_option)
      ->excludes(dir_option);
  app.add_option("--weights-prefix", prefix,
                 "only load weights whose name starts with this prefix "
                 "(removed from the name), e.g. 'state.'");
  app.add_flag("--non-strict", non_strict, "load the weights that match, report the others");
  app.add_option("--input", input_path, "safetensors file with the input tensor")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--input-key", input_key, "name of the input tensor");
  app.add_option("--output", output_path,
                 "safetensors file to write the tensor 'output' to (never one of the inputs)")
      ->required();
  app.add_option("--mode", mode, "forward (parallel), step (one position at a time) or chunkwise")
      ->check(CLI::IsMember({"forward", "step", "chunkwise"}));
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--dtype", dtype, "compute dtype")->check(CLI::IsMember(xlstm::dtype_names()));
  app.add_flag("--allow-nonfinite", allow_nonfinite,
               "take weights and inputs with NaN or infinity; a non-finite output exits with 0");
  if (const auto code = xlstm::apps::parse_command_line(app, argc, argv, "xlstm-run")) return *code;

  return xlstm::apps::run_main("xlstm-run", [&] {
    if (model_dir.empty() && (config.empty() || weights.empty()))
      throw std::invalid_argument("give --config C with --weights W, or --model-dir DIR");
    xlstm::io::protect_input(input_path);
    for (const auto& input : {config, weights})
      if (!input.empty()) xlstm::io::protect_input(input);
    xlstm::io::check_output_path(output_path);
    xlstm::apps::require_device(device);
    const torch::Device target(device);
    const auto compute = xlstm::dtype_from_name(dtype);
    std::unique_ptr<xlstm::apps::AppModel> model;
    if (!model_dir.empty()) {
      auto loaded = xlstm::apps::load_model_dir("xlstm-run", model_dir, target, compute);
      if (!allow_nonfinite)
        xlstm::apps::refuse_nonfinite(xlstm::io::state_dict(*loaded.model),
                                      "weights of '" + model_dir + "'");
      model = xlstm::apps::large_app_model(loaded.model);
    } else {
      std::vector<xlstm::ConfigOverride> overrides;
      for (const auto& assignment : assignments)
        overrides.push_back(xlstm::ConfigOverride::parse(assignment));
      model = xlstm::apps::build_model(config, kind, overrides);
      auto tensors = xlstm::io::read_weights(weights);
      if (!prefix.empty()) tensors = xlstm::io::strip_prefix(tensors, prefix);
      if (!allow_nonfinite) xlstm::apps::refuse_nonfinite(tensors, "weights '" + weights + "'");
      const auto report = xlstm::io::load_state_dict(model->module(), tensors, !non_strict);
      if (!report.ok()) std::cerr << "xlstm-run: " << report.summary() << "\n";
    }

    const auto inputs = xlstm::io::load_safetensors(input_path);
    auto found = inputs.find(input_key);
    TORCH_CHECK(found != inputs.end(), input_path, " has no tensor '", input_key, "'");
    if (!allow_nonfinite) xlstm::apps::refuse_nonfinite({*found}, "input '" + input_path + "'");
    xlstm::apps::check_model_input(*model, found->second,
                                   "input '" + input_key + "' of " + input_path);
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
    const auto warning = xlstm::apps::nonfinite_warning(output, "output '" + output_path + "'");
    if (!warning) return int{xlstm::apps::kExitOk};
    std::cerr << "xlstm-run: warning: " << *warning
              << (allow_nonfinite ? "" : " (exit code 3; --allow-nonfinite: 0)") << "\n";
    return allow_nonfinite ? int{xlstm::apps::kExitOk} : int{xlstm::apps::kExitNonFinite};
  });
}
