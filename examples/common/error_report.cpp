#include "error_report.h"

#include <c10/util/Exception.h>

#include <iostream>
#include <sstream>

namespace xlstm::apps {
namespace {

std::string without_backtrace(std::string text) {
  const auto raised = text.find("Exception raised from");
  if (raised != std::string::npos) text.erase(raised);
  // The dispatcher's message goes on with every backend an operator has (tens of lines).
  const auto dispatch = text.find("Could not run '");
  const auto because = text.find(" This could be because", dispatch);
  if (dispatch != std::string::npos && because != std::string::npos)
    text = text.substr(0, because) + " (is the device available to this process?)";
  std::istringstream lines(text);
  std::string kept, line;
  while (std::getline(lines, line))
    if (line.rfind("frame #", 0) != 0) kept += (kept.empty() ? "" : "\n") + line;
  while (!kept.empty() && (kept.back() == '\n' || kept.back() == ' ')) kept.pop_back();
  return kept;
}

}  // namespace

std::string user_message(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  return without_backtrace(c10_error ? c10_error->what_without_backtrace() : e.what());
}

int run_main(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << program << ": " << user_message(e) << std::endl;
  } catch (...) {
    std::cerr << program << ": an error of an unknown type" << std::endl;
  }
  return kExitError;
}

}  // namespace xlstm::apps
