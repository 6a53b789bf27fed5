// SIGINT / SIGTERM for the long-running binaries (xlstm-train, xlstm-generate): the first signal
// only records itself, so the program ends what it is doing and stops cleanly (a checkpoint, the
// statistics) with exit code 128 + the signal (130, 143); a second one ends the process at once
// (the signal's default action). Installed without SA_RESTART: a blocking read returns.
#pragma once

namespace xlstm::apps {

/// Installs the handler for SIGINT and SIGTERM.
void install_stop_signals();
/// Whether a stop signal arrived (since the last clear_stop_request).
bool stop_requested();
/// The first signal that arrived (SIGINT, SIGTERM), 0 when none.
int stop_signal();
/// 128 + stop_signal(): the exit code of a program that stopped on it.
int stop_exit_code();
/// "SIGINT", "SIGTERM" ("" when none).
const char* stop_signal_name();
/// Forgets the signal (xlstm-generate's interactive mode: Ctrl-C ends one turn).
void clear_stop_request();

}  // namespace xlstm::apps
