// Internal: the server's Prometheus metrics (GET /metrics, text exposition format 0.0.4).
//
// Names follow Prometheus' conventions (promtool check metrics): snake_case with the clipembed_
// prefix, base units as suffixes (_seconds, _bytes), counters ending in _total, a HELP and TYPE
// line per family, label values escaped (backslash, quote, newline). The process_* family is the
// standard one client libraries export (resident memory, CPU time, open fds, start time).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "clipembed/pool.h"

namespace clipembed::server {

// What the server is doing when /metrics is read.
struct ServerSnapshot {
  std::vector<std::pair<std::string, ModelStats>> models;  // By served name.
  PoolStats pool;
  int in_flight = 0;       // API requests being answered.
  size_t connections = 0;  // Open client connections.
};

// Thread-safe: every answered request is recorded from the I/O threads.
class Metrics {
 public:
  // One answered request: its route ("/v1/embeddings"), HTTP status, time taken and, for a
  // failure, the error code ("image_decode").
  void record(const std::string& route, int status, double seconds,
              const std::string& error_code = "");

  std::string render(const ServerSnapshot& snapshot) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;        // (route, status).
  std::map<std::pair<std::string, std::string>, uint64_t> errors_;  // (route, code).
  std::map<std::string, DurationHistogram> latency_;                // Per route.
};

// A label value escaped as the exposition format requires.
std::string escape_label(const std::string& value);

}  // namespace clipembed::server
