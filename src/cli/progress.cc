#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace clipembed::cli {

Progress::Progress(std::optional<size_t> total, bool quiet)
    : total_(total),
      quiet_(quiet),
      terminal_(draws_bar(false)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

bool Progress::draws_bar(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) != 0; }

void Progress::update(size_t done, size_t failed) {
  if (quiet_ || !terminal_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && (!total_ || done < *total_)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? done / seconds : 0.0;
  if (!total_) {  // Inputs from stdin: no total, so no bar or ETA.
    std::fprintf(stderr, "\r%zu done  %.1f images/s  %zu failed ", done, rate, failed);
    std::fflush(stderr);
    return;
  }
  const size_t total = std::max(*total_, done);
  const double eta = rate > 0 ? (total - done) / rate : 0.0;
  constexpr int kWidth = 30;
  const int filled = total ? static_cast<int>(kWidth * done / total) : kWidth;
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  std::fprintf(stderr, "\r[%s] %zu/%zu  %.1f images/s  ETA %.0fs  %zu failed ", bar, done, total,
               rate, eta, failed);
  std::fflush(stderr);
}

void Progress::finish(size_t done, size_t failed) {
  if (quiet_) return;
  if (terminal_) {
    last_draw_ = {};  // Always draw the final state.
    update(done, failed);
    std::fputc('\n', stderr);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr,
               "clipembed: embedded %zu of %zu inputs (%zu failed) in %.1f s, %.1f images/s\n",
               done - failed, done, failed, seconds, seconds > 0 ? done / seconds : 0.0);
}

}  // namespace clipembed::cli
