// A plain mutation driver for the fuzz targets where libFuzzer is absent (g++): it runs every seed,
// then mutated seeds, with no coverage feedback; the same -seed and -runs give the same inputs.
// It takes libFuzzer's flags, so scripts and CTest call both alike:
//   -runs=N             inputs after the seeds (default: until -max_total_time)
//   -seed=S             seed of the mutations (default 1)
//   -max_total_time=T   seconds to stop after (default: none; with neither, 10000 runs)
//   -max_len=N          longest input (default 65536)
//   -dict=FILE          libFuzzer dictionary: tokens to insert ("..." per line, \xNN escapes)
//   -artifact_prefix=P  where the crashing input is written (default ./)
// Other flags are ignored; other arguments are seed files or directories of them. A crash (signal
// or abort) writes the input to <artifact_prefix>crash-<run> before the process dies.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Bytes = std::string;

struct Options {
  long long runs = -1;
  uint64_t seed = 1;
  double max_total_time = 0;
  size_t max_len = 65536;
  std::string artifact_prefix = "./";
  std::vector<Bytes> dictionary;
  std::vector<std::string> inputs;
};

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

/// The quoted token of one dictionary line (`name="..."` or `"..."`), escapes decoded.
bool dictionary_token(const std::string& line, Bytes& token) {
  const size_t open = line.find('"');
  const size_t close = line.rfind('"');
  if (line.empty() || line[0] == '#' || open == std::string::npos || close <= open) return false;
  token.clear();
  for (size_t i = open + 1; i < close; ++i) {
    if (line[i] != '\\' || i + 1 >= close) {
      token += line[i];
    } else if (line[i + 1] == 'x' && i + 3 < close) {
      token += static_cast<char>(std::stoi(line.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      token += line[++i];
    }
  }
  return !token.empty();
}

std::vector<Bytes> read_dictionary(const std::string& path) {
  std::vector<Bytes> tokens;
  std::ifstream in(path);
  std::string line;
  Bytes token;
  while (std::getline(in, line))
    if (dictionary_token(line, token)) tokens.push_back(token);
  return tokens;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&](const char* flag) -> const char* {
      const size_t n = std::strlen(flag);
      return arg.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("-runs=")) {
      options.runs = std::atoll(v);
    } else if (const char* v = value("-seed=")) {
      options.seed = std::strtoull(v, nullptr, 10);
    } else if (const char* v = value("-max_total_time=")) {
      options.max_total_time = std::atof(v);
    } else if (const char* v = value("-max_len=")) {
      options.max_len = std::strtoull(v, nullptr, 10);
    } else if (const char* v = value("-dict=")) {
      options.dictionary = read_dictionary(v);
    } else if (const char* v = value("-artifact_prefix=")) {
      options.artifact_prefix = v;
    } else if (arg.empty() || arg[0] != '-') {
      options.inputs.push_back(arg);
    }
  }
  if (options.runs < 0 && options.max_total_time <= 0) options.runs = 10000;
  return options;
}

std::vector<Bytes> read_seeds(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    struct stat st {};
    if (::stat(input.c_str(), &st) != 0) continue;
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(input);
      continue;
    }
    if (DIR* dir = ::opendir(input.c_str())) {
      while (const dirent* entry = ::readdir(dir))
        if (entry->d_name[0] != '.') files.push_back(input + "/" + entry->d_name);
      ::closedir(dir);
    }
  }
  std::sort(files.begin(), files.end());  // directory order is not deterministic
  std::vector<Bytes> seeds;
  for (const auto& file : files) seeds.push_back(read_file(file));
  if (seeds.empty()) seeds.push_back("");
  return seeds;
}

class Mutator {
 public:
  Mutator(uint64_t seed, const std::vector<Bytes>& seeds, const std::vector<Bytes>& dictionary,
          size_t max_len)
      : random_(seed), seeds_(seeds), dictionary_(dictionary), max_len_(max_len) {}

  Bytes next() {
    Bytes input = seeds_[below(seeds_.size())];
    for (size_t n = 1 + below(8); n-- > 0;) mutate(input);
    if (input.size() > max_len_) input.resize(max_len_);
    return input;
  }

 private:
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(random_() % n); }

  void mutate(Bytes& b) {
    static const char kInteresting[] = {0, 1, 0x7f, '\x80', '\xff', '\n', ' ', '"', '\'',
                                        '\\', '{', '}', '[', ']', ':', ',', '&', '*', '$'};
    static const char* const kNumbers[] = {"0",  "-1",        "65536",      "2147483648",
                                           "1e309", "9223372036854775808", "-0.0", ".nan"};
    const size_t at = below(b.size() + 1);
    switch (below(9)) {
      case 0:  // flip a bit
        if (!b.empty()) b[at % b.size()] ^= static_cast<char>(1 << below(8));
        break;
      case 1:  // an interesting byte
        if (!b.empty()) b[at % b.size()] = kInteresting[below(sizeof kInteresting)];
        break;
      case 2:  // insert random bytes
        b.insert(at, 1 + below(4), static_cast<char>(random_()));
        break;
      case 3:  // erase a range
        if (!b.empty()) b.erase(at % b.size(), 1 + below(std::min<size_t>(b.size(), 64)));
        break;
      case 4: {  // copy a range elsewhere
        if (b.empty()) break;
        const size_t from = below(b.size());
        const Bytes chunk = b.substr(from, 1 + below(std::min<size_t>(b.size() - from, 256)));
        b.insert(below(b.size() + 1), chunk);
        break;
      }
      case 5:  // a dictionary token
        if (!dictionary_.empty()) b.insert(at, dictionary_[below(dictionary_.size())]);
        break;
      case 6: {  // splice: the tail of another seed
        const Bytes& other = seeds_[below(seeds_.size())];
        b = b.substr(0, at) + other.substr(below(other.size() + 1));
        break;
      }
      case 7:  // a number that sits on a boundary
        b.insert(at, kNumbers[below(sizeof kNumbers / sizeof kNumbers[0])]);
        break;
      case 8:  // repeat a range (nesting, long runs)
        if (!b.empty()) {
          const size_t from = at % b.size();
          const Bytes chunk = b.substr(from, 1 + below(std::min<size_t>(b.size() - from, 16)));
          for (size_t n = 1 + below(64); n-- > 0 && b.size() < max_len_;) b.insert(from, chunk);
        }
        break;
    }
  }

  std::mt19937_64 random_;
  const std::vector<Bytes>& seeds_;
  const std::vector<Bytes>& dictionary_;
  size_t max_len_;
};

// What the crash handler writes out (plain globals: a signal handler may only read them).
const Bytes* g_current = nullptr;
long long g_run = 0;
std::string g_artifact_prefix;

void on_crash(int signal) {
  if (g_current != nullptr) {
    char path[4096];
    std::snprintf(path, sizeof path, "%scrash-%lld", g_artifact_prefix.c_str(), g_run);
    const int fd = ::creat(path, 0644);
    if (fd >= 0) {
      [[maybe_unused]] const ssize_t written = ::write(fd, g_current->data(), g_current->size());
      ::close(fd);
    }
    const char message[] = "fuzz driver: crash, input written to the crash-<run> file\n";
    [[maybe_unused]] const ssize_t written = ::write(2, message, sizeof message - 1);
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void run(const Bytes& input, long long index) {
  g_current = &input;
  g_run = index;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  g_artifact_prefix = options.artifact_prefix;
  for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(signal, on_crash);

  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const std::vector<Bytes> seeds = read_seeds(options.inputs);
  long long index = 0;
  for (const auto& seed : seeds) run(seed, index++);

  Mutator mutator(options.seed, seeds, options.dictionary, options.max_len);
  long long runs = 0;
  while ((options.runs < 0 || runs < options.runs) &&
         (options.max_total_time <= 0 || elapsed() < options.max_total_time)) {
    run(mutator.next(), index++);
    ++runs;
  }
  std::printf("fuzz driver: %zu seeds and %lld mutated inputs in %.1f s, seed %llu: no crash\n",
              seeds.size(), runs, elapsed(), static_cast<unsigned long long>(options.seed));
  return 0;
}
