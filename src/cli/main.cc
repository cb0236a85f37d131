// clipembed: the command-line front end. See README.md for every command with an example.
#include <signal.h>

#include <cstdio>
#include <exception>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // A write past the file-size limit (ulimit -f) fails with EFBIG, which the writer reports with
  // its outputs rolled back to the last complete batch, instead of the signal killing the process
  // halfway through one.
  signal(SIGXFSZ, SIG_IGN);
  try {
    return clipembed::cli::run_cli(argc, argv);
  } catch (const clipembed::Error& e) {
    return clipembed::cli::report_error("", e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clipembed: %s\n", e.what());
    return clipembed::cli::kExitUsage;
  }
}
