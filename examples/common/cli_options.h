// The binaries' command-line helpers on top of CLI11 (header only: the xlstm_apps library itself
// does not depend on CLI11): number checks whose messages are readable (CLI11's own
// PositiveNumber prints a 309-digit bound and lets NaN through) and the parse step every main()
// runs, which names an unknown subcommand.
#pragma once

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "error_report.h"

namespace xlstm::apps {

/// A whole number in [low, high]: "--steps: -3 is not a whole number in 1 .. 1000000000".
inline CLI::Validator whole_number(int64_t low, int64_t high) {
  std::ostringstream range;
  range << low << " .. " << high;
  return CLI::Validator(
      [low, high, text = range.str()](std::string& input) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long long value = std::strtoll(input.c_str(), &end, 10);
        if (input.empty() || *end != '\0' || errno == ERANGE || value < low || value > high)
          return input + " is not a whole number in " + text;
        return {};
      },
      "in " + range.str());
}

/// A finite number in [low, high] (NaN and the infinities refused): "--lr: nan is not a finite
/// number in 0 .. 1".
inline CLI::Validator finite_number(double low, double high) {
  std::ostringstream range;
  range << low << " .. " << high;
  return CLI::Validator(
      [low, high, text = range.str()](std::string& input) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(input.c_str(), &end);
        if (input.empty() || *end != '\0' || !std::isfinite(value) || value < low || value > high)
          return input + " is not a finite number in " + text;
        return {};
      },
      "in " + range.str());
}

/// The largest count an option takes (steps, tokens, iterations): 10^12.
constexpr int64_t kMaxCount = 1000000000000;
/// The largest size an option takes (batch, sequence, dimensions, samples): 2^24.
constexpr int64_t kMaxSize = int64_t{1} << 24;

/// Parses the command line. nullopt: go on; otherwise the exit code main() returns: 0 after
/// --help, kExitUsage after an error, printed as "program: message" with a pointer to --help (an
/// unknown subcommand is named with the known ones).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                             const std::string& program) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string message = e.what();
    const auto subcommands = app.get_subcommands([](const CLI::App*) { return true; });
    if (!subcommands.empty()) {
      std::string known;
      for (const auto* sub : subcommands) known += (known.empty() ? "" : ", ") + sub->get_name();
      for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word.empty() || word[0] == '-') continue;
        bool found = false;
        for (const auto* sub : subcommands) found = found || sub->get_name() == word;
        if (!found) message = "unknown subcommand '" + word + "' (expected one of: " + known + ")";
        break;
      }
      if (app.get_subcommands().empty() && message.rfind("A subcommand", 0) == 0)
        message = "give a subcommand: " + known;
    }
    std::cerr << program << ": " << message << "\nRun with --help for more information."
              << std::endl;
    return kExitUsage;
  }
}

}  // namespace xlstm::apps
