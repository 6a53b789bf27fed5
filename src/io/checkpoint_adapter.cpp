#include "xlstm/io/checkpoint_adapter.h"

namespace xlstm::io {

TensorMap adapt_checkpoint(const torch::nn::Module& module, const TensorMap& checkpoint) {
  TensorMap out = checkpoint;
  if (const auto* root = dynamic_cast<const CheckpointAdapter*>(&module))
    root->adapt_checkpoint(out, "");
  for (const auto& item : module.named_modules("", /*include_self=*/false))
    if (const auto* adapter = dynamic_cast<const CheckpointAdapter*>(item.value().get()))
      adapter->adapt_checkpoint(out, item.key() + ".");
  return out;
}

}  // namespace xlstm::io
