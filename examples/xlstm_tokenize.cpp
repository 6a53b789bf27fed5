// xlstm-tokenize --tokenizer FILE|DIR (--text T | --file F | --decode "IDS"): token ids of a text
// (space-separated on one line) by a Hugging Face tokenizer.json (the byte-level BPE family), or
// the text of ids. DIR: a directory holding tokenizer.json (a downloaded checkpoint). Errors: the
// message on stderr, exit code 1 (a bad file, text or id) or 2 (a bad command line).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "cli_options.h"
#include "error_report.h"
#include "token_ids.h"
#include "xlstm/generation/bpe_tokenizer.h"
#include "xlstm/io/read_file.h"

namespace {

/// The largest --file read.
constexpr uint64_t kMaxTextBytes = uint64_t{256} << 20;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Encode text into token ids, or decode ids, with a Hugging Face tokenizer.json"};
  std::string tokenizer, text, file, ids;
  bool special = false;
  app.add_option("--tokenizer", tokenizer, "tokenizer.json, or a directory holding one")
      ->required();
  auto* from_text = app.add_option("--text", text, "the text to encode (UTF-8)");
  auto* from_file = app.add_option("--file", file, "a file whose text to encode (UTF-8)");
  auto* decode = app.add_option("--decode", ids, "token ids to decode, separated by spaces");
  from_text->excludes(from_file)->excludes(decode);
  from_file->excludes(decode);
  app.add_flag("--special", special, "--decode: print special tokens as spelled (else nothing)");
  if (const auto code = xlstm::apps::parse_command_line(app, argc, argv, "xlstm-tokenize"))
    return *code;
  if (from_text->count() + from_file->count() + decode->count() == 0) {
    std::cerr << "xlstm-tokenize: give one of --text, --file, --decode\n"
                 "Run with --help for more information."
              << std::endl;
    return xlstm::apps::kExitUsage;
  }
  return xlstm::apps::run_main("xlstm-tokenize", [&] {
    const std::string path = std::filesystem::is_directory(tokenizer)
                                 ? (std::filesystem::path(tokenizer) / "tokenizer.json").string()
                                 : tokenizer;
    const auto bpe = xlstm::generation::BpeTokenizer::from_file(path);
    if (decode->count() > 0) {
      const auto list = xlstm::apps::parse_token_ids(ids, "--decode", bpe.vocab_size());
      std::cout << (special ? bpe.decode_with_special_tokens(list) : bpe.decode(list)) << "\n";
      return 0;
    }
    const std::string source =
        from_file->count() > 0 ? xlstm::io::read_regular_file(file, kMaxTextBytes) : text;
    std::string line;
    for (const int64_t id : bpe.encode(source))
      line += (line.empty() ? "" : " ") + std::to_string(id);
    std::cout << line << "\n";
    return 0;
  });
}
