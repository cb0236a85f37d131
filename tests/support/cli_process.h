// Test support: runs the real `clipembed` binary (or any program) as a child process, with its
// own arguments, environment and resource limits, and collects what it printed and how it ended.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace clipembed::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when it did not exit normally (see signal).
  int signal = 0;      // The signal that ended it, or 0.
  std::string out, err;
};

struct ProcessOptions {
  std::vector<std::string> env;  // NAME=value, added to this process's environment.
  // Called in the child before exec (e.g. setrlimit); must be async-signal-safe in spirit.
  std::function<void()> in_child;
};

// Runs `program` with `args` to completion.
ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const ProcessOptions& options = {});

// Runs the clipembed CLI with `args`.
ProcessResult run_cli(const std::vector<std::string>& args, const ProcessOptions& options = {});

// Runs the CLI and kills it with SIGKILL after `delay` (if it has not exited by then).
ProcessResult run_cli_killed_after(const std::vector<std::string>& args,
                                   std::chrono::microseconds delay,
                                   const ProcessOptions& options = {});

}  // namespace clipembed::testing
