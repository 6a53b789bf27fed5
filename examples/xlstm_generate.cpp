// xlstm-generate: text (or token ids) from a trained xLSTM language model (an xlstm-train run, a
// config with weights, or an xLSTM-Large checkpoint directory with its tokenizer.json), streamed to
// stdout as it is produced; time to first token and tokens/s on stderr. The first Ctrl-C (or
// SIGTERM) ends generation cleanly (exit 130 / 143), a second one ends the process
// (examples/common/stop_signal.h).
#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>

#include <xlstm/components/dtype.h>
#include <xlstm/config/overrides.h>
#include <xlstm/generation/bpe_tokenizer.h>
#include <xlstm/generation/byte_tokenizer.h>
#include <xlstm/generation/generate.h>
#include <xlstm/io/read_file.h>
#include <xlstm/io/state_dict.h>
#include <xlstm/training/checkpoint.h>
#include <xlstm/training/experiment_config.h>
#include <xlstm/xlstm_lm_model.h>

#include "cli_options.h"
#include "error_report.h"
#include "large_model_kind.h"
#include "model_kinds.h"
#include "runtime_info.h"
#include "stop_signal.h"
#include "tensor_checks.h"
#include "token_ids.h"

namespace {

namespace gen = xlstm::generation;
using Clock = std::chrono::steady_clock;

/// A --prompt-file: a regular file of at most 64 MiB.
std::string read_file(const std::string& path) {
  return xlstm::io::read_regular_file(path, uint64_t{64} << 20);
}

/// The model config of an experiment YAML (its `model`) or of an LM model YAML.
xlstm::xLSTMLMModelConfig load_model_config(const std::string& path,
                                            const std::vector<xlstm::ConfigOverride>& overrides) {
  const std::string kind = xlstm::apps::model_kind_for(path).name;
  if (kind == "experiment") return xlstm::load_experiment_config(path, overrides).model;
  if (kind == "lm") return xlstm::load_config<xlstm::xLSTMLMModelConfig>(path, overrides);
  throw std::invalid_argument(path + " is a '" + kind +
                              "' config: xlstm-generate needs a language model (experiment or lm)");
}

/// Prints each sample's pieces in sample order: sample 0 live, the next one (what it has so far,
/// then live) once the one before has ended; a line per sample, after a header line with
/// `headers`.
class SamplePrinter {
 public:
  SamplePrinter(size_t samples, bool headers)
      : buffers_(samples), ended_(samples, false), headers_(headers) {}

  void start() { print_header(0); }
  void add(size_t sample, const std::string& piece, bool ends) {
    buffers_[sample] += piece;
    ended_[sample] = ended_[sample] || ends;
    drain();
  }
  /// Everything left, in order (generation is over).
  void finish() {
    std::fill(ended_.begin(), ended_.end(), true);
    drain();
  }

 private:
  void print_header(size_t sample) {
    if (headers_) std::cout << "--- sample " << (sample + 1) << " ---\n";
  }
  void drain() {
    while (current_ < buffers_.size()) {
      std::cout << buffers_[current_];
      buffers_[current_].clear();
      if (!ended_[current_]) break;
      std::cout << "\n";
      if (++current_ < buffers_.size()) print_header(current_);
    }
    std::cout << std::flush;
  }

  std::vector<std::string> buffers_;
  std::vector<bool> ended_;
  bool headers_;
  size_t current_ = 0;
};

struct Settings {
  gen::GenerationOptions options;
  int64_t num_samples = 1;
  bool ids_mode = false;
  bool echo = true;
};

struct TurnStats {
  int64_t tokens = 0;
  double first_token_s = -1.0, total_s = 0.0;
};

/// One generation for `prompt`, printed as it comes; `state` continues (and is updated) when set.
template <class Model>
TurnStats run_turn(Model& model, const std::vector<int64_t>& prompt, const Settings& settings,
                   const gen::Tokenizer& tokenizer, gen::ModelState<Model>* state) {
  const size_t samples = static_cast<size_t>(settings.num_samples);
  std::vector<gen::Utf8StreamDecoder> decoders(samples, gen::Utf8StreamDecoder(tokenizer));
  SamplePrinter printer(samples, samples > 1 && !settings.ids_mode);
  TurnStats stats;
  const auto start = Clock::now();
  auto options = settings.options;
  options.on_token = [&](const gen::TokenEvent& event) {
    if (stats.first_token_s < 0)
      stats.first_token_s = std::chrono::duration<double>(Clock::now() - start).count();
    ++stats.tokens;
    const auto sample = static_cast<size_t>(event.sequence);
    std::string piece = settings.ids_mode
                            ? (event.index > 0 ? " " : "") + std::to_string(event.token)
                            : decoders[sample].push(event.token);
    if (event.finished && !settings.ids_mode) piece += decoders[sample].flush();
    printer.add(sample, piece, event.finished.has_value());
    return xlstm::apps::stop_requested() ? gen::GenerationControl::kStopAll
                                         : gen::GenerationControl::kContinue;
  };
  printer.start();
  if (settings.echo && !settings.ids_mode && state == nullptr)
    for (size_t s = 0; s < samples; ++s) printer.add(s, tokenizer.decode(prompt), false);
  const std::vector<std::vector<int64_t>> prompts(samples, prompt);
  auto result =
      gen::generate(model, prompts, options, state != nullptr ? *state : gen::ModelState<Model>{});
  for (size_t s = 0; s < samples && !settings.ids_mode; ++s)
    printer.add(s, decoders[s].flush(), false);
  printer.finish();
  if (state != nullptr) *state = std::move(result.state);
  stats.total_s = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

void report(const TurnStats& stats, int64_t prompt_tokens, int64_t samples) {
  std::cerr << std::fixed << std::setprecision(1) << "xlstm-generate: " << stats.tokens
            << " tokens (" << samples << " sample" << (samples > 1 ? "s" : "") << ", prompt "
            << prompt_tokens << " tokens) in " << std::setprecision(3) << stats.total_s << " s";
  if (stats.first_token_s >= 0) {
    const double after_first = stats.total_s - stats.first_token_s;
    std::cerr << "; time to first token " << std::setprecision(1) << 1e3 * stats.first_token_s
              << " ms";
    if (stats.tokens > samples && after_first > 0)
      std::cerr << ", then " << (stats.tokens - samples) / after_first << " tokens/s";
  }
  std::cerr << "\n";
}

/// Generates for the prompt (or, interactive, for each line of stdin) and reports; the exit code.
template <class Model>
int serve_prompts(Model& model, const gen::Tokenizer& tokenizer, int64_t vocab, Settings& settings,
                  bool interactive, const std::string& prompt_text, const std::string& prompt_file,
                  const std::string& prompt_ids) {
  if (!interactive) {
    const auto prompt =
        settings.ids_mode
            ? xlstm::apps::parse_token_ids(prompt_ids, "--prompt-ids", vocab)
            : tokenizer.encode(prompt_file.empty() ? prompt_text : read_file(prompt_file));
    if (prompt.empty()) throw std::invalid_argument("the prompt is empty");
    const auto stats = run_turn(model, prompt, settings, tokenizer, nullptr);
    report(stats, static_cast<int64_t>(prompt.size()), settings.num_samples);
    return xlstm::apps::stop_requested() ? xlstm::apps::stop_exit_code() : 0;
  }

  // Interactive: every line (with its newline) continues the text so far.
  gen::ModelState<Model> state;
  std::string first = prompt_file.empty() ? prompt_text : read_file(prompt_file);
  settings.echo = false;
  std::cerr << "xlstm-generate: interactive; each line continues the text (Ctrl-D ends)\n";
  for (std::string line;;) {
    if (first.empty()) {
      std::cerr << "> " << std::flush;
      if (!std::getline(std::cin, line)) break;
      line += "\n";
    } else {
      line = std::move(first);
      first.clear();
    }
    const auto prompt = tokenizer.encode(line);
    const auto stats = run_turn(model, prompt, settings, tokenizer, &state);
    report(stats, static_cast<int64_t>(prompt.size()), 1);
    if (xlstm::apps::stop_signal() == SIGTERM) break;  // SIGTERM ends the session
    xlstm::apps::clear_stop_request();                 // Ctrl-C during a turn ends only that turn
  }
  return xlstm::apps::stop_requested() ? xlstm::apps::stop_exit_code() : 0;
}

/// serve_prompts(), where logits that turn NaN or infinite end the run with exit code 3 (the text
/// so far stays printed).
template <class Model>
int serve(Model& model, const gen::Tokenizer& tokenizer, int64_t vocab, Settings& settings,
          bool interactive, const std::string& prompt_text, const std::string& prompt_file,
          const std::string& prompt_ids) {
  try {
    return serve_prompts(model, tokenizer, vocab, settings, interactive, prompt_text, prompt_file,
                         prompt_ids);
  } catch (const gen::NonFiniteLogits& e) {
    std::cout << std::endl;
    std::cerr << "xlstm-generate: " << e.what() << " (exit code 3)\n";
    return xlstm::apps::kExitNonFinite;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlstm-generate: generate text with a trained xLSTM language model"};
  std::string run_dir, config_path, weights, model_dir, prompt_text, prompt_file, prompt_ids;
  std::string device = "cpu", dtype = "float32";
  std::vector<std::string> assignments;
  Settings settings;
  auto& sampling = settings.options.sampling;
  settings.options.max_new_tokens = 256;
  sampling.temperature = 0.8;
  bool interactive = false, no_echo = false;
  auto* run = app.add_option("--run", run_dir,
                             "xlstm-train output directory: its config.yaml and newest checkpoint")
                  ->check(CLI::ExistingDirectory);
  auto* config = app.add_option("--config", config_path, "experiment or LM model YAML")
                     ->check(CLI::ExistingFile)
                     ->excludes(run);
  app.add_option("--model-dir", model_dir,
                 "an xLSTM-Large checkpoint directory as downloaded (Hugging Face or official); "
                 "text prompts need its tokenizer.json")
      ->check(CLI::ExistingDirectory)
      ->excludes(run)
      ->excludes(config);
  app.add_option("--weights", weights,
                 "weights for --config (.safetensors or .pt); none: a freshly initialised model")
      ->check(CLI::ExistingFile)
      ->needs(config);
  app.add_option("--set", assignments, "override a config value (repeatable), e.g. --set key=v");
  auto* text = app.add_option("--prompt", prompt_text, "prompt text");
  auto* file = app.add_option("--prompt-file", prompt_file, "prompt text from a file")
                   ->check(CLI::ExistingFile)
                   ->excludes(text);
  app.add_option("--prompt-ids", prompt_ids,
                 "prompt as token ids (\"1 2 3\"); prints the new ids, a line per sample")
      ->excludes(text)
      ->excludes(file);
  app.add_option("--max-new-tokens", settings.options.max_new_tokens, "tokens to generate")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxCount))
      ->capture_default_str();
  app.add_option("--temperature", sampling.temperature, "sampling temperature; 0: greedy")
      ->check(xlstm::apps::finite_number(0, 1e6))
      ->capture_default_str();
  app.add_option("--top-k", sampling.top_k, "keep the k most likely tokens; 0: off")
      ->check(xlstm::apps::whole_number(0, xlstm::apps::kMaxSize));
  app.add_option("--top-p", sampling.top_p, "nucleus sampling: keep probability mass p; 1: off")
      ->check(xlstm::apps::finite_number(0, 1));
  app.add_option("--min-p", sampling.min_p, "drop tokens below p times the most likely; 0: off")
      ->check(xlstm::apps::finite_number(0, 1));
  app.add_option("--repetition-penalty", sampling.repetition_penalty,
                 "> 1 discourages tokens already seen; 1: off")
      ->check(xlstm::apps::finite_number(1e-6, 1e6));
  app.add_option("--seed", settings.options.seed, "random seed of the sampling");
  app.add_option("--stop", settings.options.stop_strings,
                 "end a sample when its text contains this string (repeatable)");
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--dtype", dtype, "weights and compute dtype")
      ->check(CLI::IsMember(xlstm::dtype_names()));
  app.add_option("--num-samples", settings.num_samples,
                 "samples of the prompt, generated as a batch")
      ->check(xlstm::apps::whole_number(1, 4096));
  app.add_flag("--interactive", interactive,
               "read lines from stdin; each continues the text so far (the state is kept)");
  app.add_flag("--no-echo", no_echo, "do not print the prompt before the generated text");
  app.add_flag("!--no-cuda-graph", settings.options.cuda_graph,
               "on CUDA, step without capturing the step as a CUDA graph");
  bool allow_nonfinite = false;
  app.add_flag("--allow-nonfinite", allow_nonfinite, "take weights with NaN or infinity");
  if (const auto code = xlstm::apps::parse_command_line(app, argc, argv, "xlstm-generate"))
    return *code;

  xlstm::apps::install_stop_signals();
  return xlstm::apps::run_main("xlstm-generate", [&] {
    if (run_dir.empty() && config_path.empty() && model_dir.empty())
      throw std::invalid_argument(
          "give --run DIR, --config C with --weights W, or --model-dir DIR");
    settings.ids_mode = !prompt_ids.empty();
    settings.echo = !no_echo;
    if (interactive && (settings.ids_mode || settings.num_samples > 1))
      throw std::invalid_argument("--interactive takes text prompts and one sample");
    if (!interactive && prompt_text.empty() && prompt_file.empty() && prompt_ids.empty())
      throw std::invalid_argument("give a prompt: --prompt, --prompt-file or --prompt-ids");
    xlstm::apps::require_device(device);

    if (!model_dir.empty()) {
      auto loaded = xlstm::apps::load_model_dir("xlstm-generate", model_dir, torch::Device(device),
                                                xlstm::dtype_from_name(dtype));
      if (!allow_nonfinite)
        xlstm::apps::refuse_nonfinite(xlstm::io::state_dict(*loaded.model),
                                      "weights of '" + model_dir + "'");
      const std::string tokenizer_path = model_dir + "/tokenizer.json";
      std::optional<gen::BpeTokenizer> bpe;
      if (!settings.ids_mode) {
        if (!std::ifstream(tokenizer_path))
          throw std::invalid_argument(model_dir +
                                      " has no tokenizer.json: give token ids with --prompt-ids");
        bpe = gen::BpeTokenizer::from_file(tokenizer_path);
        settings.options.tokenizer = &*bpe;
        if (loaded.eos_token_id) settings.options.stop_token_ids = {*loaded.eos_token_id};
      }
      sampling.validate();
      const gen::ByteTokenizer no_text;  // ids mode: the tokenizer decodes nothing
      return serve(loaded.model, bpe ? static_cast<const gen::Tokenizer&>(*bpe) : no_text,
                   loaded.model->config.vocab_size, settings, interactive, prompt_text, prompt_file,
                   prompt_ids);
    }
    std::vector<xlstm::ConfigOverride> overrides;
    for (const auto& assignment : assignments)
      overrides.push_back(xlstm::ConfigOverride::parse(assignment));
    if (!run_dir.empty()) {
      config_path = run_dir + "/config.yaml";
      const auto checkpoint = xlstm::find_resume_point(run_dir + "/checkpoints");
      if (!checkpoint) throw std::runtime_error(run_dir + " has no checkpoint (checkpoints/)");
      if (!checkpoint->recovery_note.empty())
        std::cerr << "xlstm-generate: note: " << checkpoint->recovery_note << "\n";
      weights = checkpoint->step_dir + "/model.safetensors";
    }
    torch::manual_seed(0);  // the initialisation when there are no weights
    xlstm::xLSTMLMModel model(load_model_config(config_path, overrides));
    if (weights.empty()) {
      std::cerr << "xlstm-generate: no --weights: a freshly initialised model\n";
    } else {
      const auto tensors = xlstm::io::read_weights(weights);
      if (!allow_nonfinite) xlstm::apps::refuse_nonfinite(tensors, "weights '" + weights + "'");
      xlstm::io::load_state_dict(*model, tensors);
    }
    model->to(torch::Device(device), xlstm::dtype_from_name(dtype));
    model->eval();

    const gen::ByteTokenizer tokenizer;
    const int64_t vocab = model->config.vocab_size;
    if (!settings.ids_mode && vocab != tokenizer.vocab_size())
      throw std::invalid_argument(
          "the model's vocab_size " + std::to_string(vocab) + " is not the byte tokenizer's " +
          std::to_string(tokenizer.vocab_size()) + " (give token ids with --prompt-ids)");
    if (!settings.ids_mode) {
      settings.options.tokenizer = &tokenizer;
      settings.options.stop_token_ids = {gen::ByteTokenizer::kEos};
    }
    sampling.validate();

    return serve(model, tokenizer, vocab, settings, interactive, prompt_text, prompt_file,
                 prompt_ids);
  });
}
