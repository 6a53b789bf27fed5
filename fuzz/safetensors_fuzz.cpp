// Fuzz target: a safetensors file. The one error it may give is a SafetensorsError; what loads is
// read in full (every byte of every tensor).
#include <cstdint>
#include <cstdlib>

#include "scratch_file.h"
#include "xlstm/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const xlstm::fuzz::ScratchFile file("input.safetensors");
  try {
    const auto contents = xlstm::io::read_safetensors(file.write(data, size));
    for (const auto& [name, tensor] : contents.tensors)
      if (tensor.numel() > 0 && !tensor.is_contiguous()) std::abort();  // copies are contiguous
  } catch (const xlstm::io::SafetensorsError&) {
  }
  return 0;
}
