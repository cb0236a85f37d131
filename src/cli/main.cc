// clipembed: the command-line front end. See README.md for every command with an example.
#include <cstdio>
#include <exception>

#include "cli/commands.h"

int main(int argc, char** argv) {
  try {
    return clipembed::cli::run_cli(argc, argv);
  } catch (const clipembed::Error& e) {
    return clipembed::cli::report_error("", e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clipembed: %s\n", e.what());
    return clipembed::cli::kExitUsage;
  }
}
