// The model kinds the binaries accept (xlstm-config, xlstm-run): each kind has a name (the value of
// `--kind`), a test that recognises its config files, and how a file of that kind is resolved and
// built. Adding a kind (a second model family) is one ModelKind in its own file, listed in
// model_kinds.cpp, or register_model_kind() from an application; no binary changes.
#pragma once

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "xlstm/config/overrides.h"

namespace xlstm::apps {

/// A model as the binaries drive it, whatever its family.
class AppModel {
 public:
  /// The model's own recurrent state (empty: the zero state).
  using State = std::any;

  virtual ~AppModel() = default;
  virtual torch::nn::Module& module() = 0;
  /// Token ids (int64 [B, S]) in and logits out; otherwise features [B, S, D] in and out.
  virtual bool takes_tokens() const = 0;
  /// The vocabulary size (tokens) or D (features).
  virtual int64_t input_size() const = 0;
  /// The whole sequence at once (the parallel form).
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;
  /// The sequence through the recurrent-state path (mLSTM chunkwise), continuing from `state`.
  virtual std::pair<torch::Tensor, State> forward_with_state(const torch::Tensor& input,
                                                             const State& state = {}) = 0;
  /// One position [B, 1, ...], continuing from `state`.
  virtual std::pair<torch::Tensor, State> step(const torch::Tensor& input,
                                               const State& state = {}) = 0;
  /// step() over every position from the zero state, outputs concatenated on the sequence axis.
  torch::Tensor step_sequence(const torch::Tensor& input);
};

/// A torch module holder (xLSTMLMModel, xLSTMBlockStack, large::xLSTMLarge) as an AppModel: its
/// forward / forward_with_state / step with the state type `ModelState` in the std::any.
template <class Holder, class ModelState>
class HolderAppModel : public AppModel {
 public:
  HolderAppModel(Holder net, bool takes_tokens, int64_t input_size)
      : net_(std::move(net)), takes_tokens_(takes_tokens), input_size_(input_size) {}

  torch::nn::Module& module() override { return *net_; }
  bool takes_tokens() const override { return takes_tokens_; }
  int64_t input_size() const override { return input_size_; }
  torch::Tensor forward(const torch::Tensor& input) override { return net_->forward(input); }
  std::pair<torch::Tensor, State> forward_with_state(const torch::Tensor& input,
                                                     const State& state) override {
    auto [y, next] = net_->forward_with_state(input, unwrap(state));
    return {y, std::move(next)};
  }
  std::pair<torch::Tensor, State> step(const torch::Tensor& input, const State& state) override {
    auto [y, next] = net_->step(input, unwrap(state));
    return {y, std::move(next)};
  }

 private:
  static ModelState unwrap(const State& state) {
    if (!state.has_value()) return {};
    const auto* typed = std::any_cast<ModelState>(&state);
    TORCH_CHECK(typed, "the state passed in is not the model's own state type");
    return *typed;
  }

  Holder net_;
  bool takes_tokens_;
  int64_t input_size_;
};

struct ModelKind {
  std::string name;         ///< the `--kind` value
  std::string description;  ///< one line for `--help`
  /// Whether a file with these top-level keys is of this kind (`--kind auto` asks the kinds in
  /// registration order and takes the first that says yes).
  std::function<bool(const std::vector<std::string>& top_level_keys)> recognises;
  /// The file loaded, validated and written back fully resolved (xlstm-config).
  std::function<std::string(const std::string& path, const std::vector<ConfigOverride>&)> resolve;
  /// The model the file describes, freshly initialised.
  std::function<std::unique_ptr<AppModel>(const std::string& path,
                                          const std::vector<ConfigOverride>&)>
      build;
};

/// The registered kinds: large (xLSTM-Large), experiment (its model), LM model, block stack, then
/// any registered later.
const std::vector<ModelKind>& model_kinds();
/// Adds a kind; `--kind auto` tries it after the kinds before it. Its name must be new.
void register_model_kind(ModelKind kind);
/// "auto" and every kind's name: the choices of `--kind`.
std::vector<std::string> model_kind_choices();
/// The kind called `name`, or for "auto" the first kind that recognises the file at `path`. An
/// unknown name or a file no kind recognises is a ConfigError naming it and the known kinds.
const ModelKind& model_kind_for(const std::string& path, const std::string& name = "auto");
/// model_kind_for(path, kind).build(path, overrides).
std::unique_ptr<AppModel> build_model(const std::string& path, const std::string& kind = "auto",
                                      const std::vector<ConfigOverride>& overrides = {});

}  // namespace xlstm::apps
