// Internal: progress on stderr for long CLI runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace clipembed::cli {

// A bar redrawn in place when stderr is a terminal; otherwise silent until finish(), which prints
// a one-line summary. Not thread-safe: the CLI's main loop owns it.
class Progress {
 public:
  // `total`: the number of inputs, when known (not when they come from stdin).
  Progress(std::optional<size_t> total, bool quiet);
  // Whether a bar is drawn (not quiet, stderr a terminal): only then is the total worth counting.
  static bool draws_bar(bool quiet);
  void update(size_t done, size_t failed);
  void finish(size_t done, size_t failed);

 private:
  std::optional<size_t> total_;
  bool quiet_, terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace clipembed::cli
