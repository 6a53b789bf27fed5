// Hand-made torch.save archives: the pickle reader accepts a minimal valid one and refuses every
// malformed one with an error naming the file.
#include <caffe2/serialize/inline_container.h>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "io/temp_dir.h"
#include "xlstm/io/state_dict.h"

namespace xlstm::io {
namespace {

using testing::TempDir;

std::string str(const std::string& s) {  // BINUNICODE
  std::string out = "X";
  for (int i = 0; i < 4; ++i) out += static_cast<char>(s.size() >> (8 * i));
  return out + s;
}
std::string small_int(int v) {
  return "K" + std::string(1, static_cast<char>(v));
}  // BININT1

// {"w": _rebuild_tensor_v2(storage 0 of `numel` floats, offset 0, (size,), (1,), False, ())}
std::string state_dict_pickle(int numel, int size,
                              const std::string& rebuild = "torch._utils\n_rebuild_tensor_v2\n") {
  return "\x80\x02}(" + str("w") + "c" + rebuild + "((" + str("storage") +
         "ctorch\nFloatStorage\n" + str("0") + str("cpu") + small_int(numel) + "tQ" + small_int(0) +
         small_int(size) + "\x85" + small_int(1) + "\x85" + "\x89" + ")tRu.";
}

class IoPtCorrupt : public ::testing::Test {
 protected:
  std::string write(const std::string& pickle, const std::string& record) {
    const std::string path = dir_.file("t.pt");
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    writer.writeRecord("data/0", record.data(), record.size());
    writer.writeEndOfFile();
    return path;
  }
  void expect_error(const std::string& pickle, const std::string& record,
                    const std::string& problem) {
    expect_file_error(write(pickle, record), problem);
  }
  void expect_file_error(const std::string& path, const std::string& problem) {
    try {
      load_pt(path);
      ADD_FAILURE() << "no error for: " << problem;
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(problem), std::string::npos)
          << "expected '" << problem << "' in: " << what;
    }
  }
  const std::string two_floats_ = std::string("\x00\x00\xc0\x3f\x00\x00\x00\xc0", 8);  // 1.5, -2
  TempDir dir_;
};

TEST_F(IoPtCorrupt, HandMadeArchiveLoads) {
  const TensorMap t = load_pt(write(state_dict_pickle(2, 2), two_floats_));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_TRUE(torch::equal(t.at("w"), torch::tensor({1.5f, -2.0f})));
}

TEST_F(IoPtCorrupt, RecordOfWrongSize) {
  expect_error(state_dict_pickle(2, 2), two_floats_.substr(0, 4), "holds 4 bytes, not 2 * 4");
}

TEST_F(IoPtCorrupt, ViewOutsideItsStorage) {
  expect_error(state_dict_pickle(2, 3), two_floats_, "tensor view outside its storage");
}

TEST_F(IoPtCorrupt, UnknownGlobalIsNeverCalled) {
  expect_error(state_dict_pickle(2, 2, "os\nsystem\n"), two_floats_,
               "unsupported global os.system");
}

TEST_F(IoPtCorrupt, TruncatedPickle) {
  const std::string pickle = state_dict_pickle(2, 2);
  expect_error(pickle.substr(0, pickle.size() - 3), two_floats_, "truncated pickle");
}

TEST_F(IoPtCorrupt, UnsupportedOpcodeAndBadStack) {
  expect_error("\x80\x02S'x'\n.", "", "unsupported pickle opcode");
  expect_error("\x80\x02h\x05.", "", "memo index 5 unset");
  expect_error("\x80\x02s.", "", "pickle stack underflow");
}

TEST_F(IoPtCorrupt, NotADictOfTensors) {
  expect_error("\x80\x02]" + small_int(1) + "a.", "", "holds no dict");
  expect_error("\x80\x02}" + str("k") + small_int(1) + "s.", "", "not a name -> tensor pair");
}

TEST_F(IoPtCorrupt, ListNested100000DeepIsFreedWithoutRecursion) {
  // {"w": [[[...]]]}: 100,000 lists made, then each appended to the one below it.
  const int depth = 100000;
  const std::string pickle =
      "\x80\x02}" + str("w") + std::string(depth, ']') + std::string(depth - 1, 'a') + "s.";
  expect_error(pickle, "", "not a name -> tensor pair");
}

TEST_F(IoPtCorrupt, ValueCountIsBounded) {
  expect_error("\x80\x02" + std::string((1 << 21) + 1, 'N') + ".", "", "more than 2097152 values");
}

TEST_F(IoPtCorrupt, NotARegularFile) {
  expect_file_error(dir_.path().string(), "is a directory, not a regular file");
  const std::string fifo = dir_.file("fifo.pt");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_file_error(fifo, "is a FIFO, not a regular file");  // without blocking
  expect_file_error("/dev/zero", "is a character device, not a regular file");
}

TEST_F(IoPtCorrupt, NotAZipArchive) {
  const std::string path = dir_.file("plain.pt");
  testing::write_bytes(path, "\x80\x02}.");  // a bare pickle: the legacy format
  EXPECT_THROW(load_pt(path), std::runtime_error);
}

}  // namespace
}  // namespace xlstm::io
