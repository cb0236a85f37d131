// Internal: the server's Prometheus metrics (GET /metrics, text format 0.0.4).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "clipembed/pool.h"

namespace clipembed::server {

// Thread-safe: handlers on every I/O thread record into it.
class Metrics {
 public:
  // One answered request: its route ("/v1/embeddings"), HTTP status, time taken and, for a
  // failure, the error code ("image_decode").
  void record(const std::string& route, int status, double seconds,
              const std::string& error_code = "");

  // The text for GET /metrics: request and error counters, the latency histogram per route, and
  // per model its queue depth, batch-size histogram, images embedded, workers and load time.
  std::string render(const std::vector<std::pair<std::string, ModelStats>>& models,
                     int in_flight) const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // Per bucket (not cumulative), the last one for +Inf.
    double sum = 0;
    uint64_t total = 0;
  };

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;        // (route, status).
  std::map<std::pair<std::string, std::string>, uint64_t> errors_;  // (route, code).
  std::map<std::string, Histogram> latency_;                        // Per route.
};

}  // namespace clipembed::server
