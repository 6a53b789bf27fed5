#include "large_model_kind.h"

#include <algorithm>
#include <iomanip>
#include <iostream>

#include "xlstm/config/overrides.h"
#include "xlstm/config/yaml.h"

namespace xlstm::apps {
ModelKind large_model_kind() {
  return {"large",
          "an xLSTMLargeConfig (the xLSTM-7B family: an official checkpoint's config.yaml)",
          [](const std::vector<std::string>& keys) {
            for (const char* key : {"qk_dim_factor", "v_dim_factor", "chunkwise_kernel",
                                    "weight_mode", "ffn_proj_factor", "output_logit_soft_cap"})
              if (std::find(keys.begin(), keys.end(), key) != keys.end()) return true;
            return false;
          },
          [](const std::string& path, const std::vector<ConfigOverride>& overrides) {
            return to_yaml(load_config<large::xLSTMLargeConfig>(path, overrides));
          },
          [](const std::string& path, const std::vector<ConfigOverride>& overrides) {
            return large_app_model(
                large::xLSTMLarge(load_config<large::xLSTMLargeConfig>(path, overrides)));
          }};
}

std::unique_ptr<AppModel> large_app_model(large::xLSTMLarge model) {
  const int64_t vocab = model->config.vocab_size;
  return std::make_unique<HolderAppModel<large::xLSTMLarge, large::xLSTMLargeState>>(
      std::move(model), true, vocab);
}

large::PretrainedModel load_model_dir(const std::string& program, const std::string& dir,
                                      const torch::Device& device, torch::ScalarType dtype) {
  large::PretrainedOptions options;
  options.device = device;
  options.dtype = dtype;
  auto loaded = large::load_pretrained(dir, options);
  std::cerr << program << ": " << dir << ": " << large::format_name(loaded.format)
            << " checkpoint, " << loaded.weight_files.size() << " weight file"
            << (loaded.weight_files.size() == 1 ? "" : "s") << ", on " << device << " (" << dtype
            << "); peak host memory " << std::fixed << std::setprecision(1)
            << loaded.peak_host_bytes / 1048576.0 << " MiB\n";
  if (!loaded.ignored_keys.empty()) {
    std::cerr << program << ": config.json keys not used:";
    for (const auto& key : loaded.ignored_keys) std::cerr << " " << key;
    std::cerr << "\n";
  }
  return loaded;
}

}  // namespace xlstm::apps
