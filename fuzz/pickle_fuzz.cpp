// Fuzz target: a torch.save file. An input that starts with "PK" is the whole zip archive;
// anything else is the pickle (data.pkl) of an archive whose storage records data/0 .. data/7
// hold 64 bytes each. The one error load_pt may give is a std::runtime_error naming the file;
// what loads is read in full.
#include <caffe2/serialize/inline_container.h>

#include <cstdint>
#include <string>

#include "scratch_file.h"
#include "xlstm/io/state_dict.h"

namespace {

void write_archive(const std::string& path, const uint8_t* pickle, size_t size) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle, size);
  const std::string record(64, '\x01');
  for (int i = 0; i < 8; ++i)
    writer.writeRecord("data/" + std::to_string(i), record.data(), record.size());
  writer.writeEndOfFile();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const xlstm::fuzz::ScratchFile file("input.pt");
  if (size >= 2 && data[0] == 'P' && data[1] == 'K')
    file.write(data, size);
  else
    write_archive(file.path(), data, size);
  try {
    for (const auto& [name, tensor] : xlstm::io::load_pt(file.path()))
      (void)tensor.contiguous();  // touches every element of the view
  } catch (const std::runtime_error&) {
  }
  return 0;
}
