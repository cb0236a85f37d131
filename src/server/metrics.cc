#include "server/metrics.h"

#include <cstdio>
#include <sstream>

namespace clipembed::server {
namespace {

constexpr double kLatencyBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
constexpr int kBatchBounds[] = {1, 2, 4, 8, 16, 32, 64};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Label values are routes and model keys we chose or admitted; escape what the format requires.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? 'n' : c;
  }
  return out;
}

}  // namespace

void Metrics::record(const std::string& route, int status, double seconds,
                     const std::string& error_code) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  if (!error_code.empty()) ++errors_[{route, error_code}];
  Histogram& h = latency_[route];
  constexpr size_t kBuckets = std::size(kLatencyBounds) + 1;
  if (h.counts.empty()) h.counts.assign(kBuckets, 0);
  size_t b = 0;
  while (b < std::size(kLatencyBounds) && seconds > kLatencyBounds[b]) ++b;
  ++h.counts[b];
  h.sum += seconds;
  ++h.total;
}

std::string Metrics::render(const std::vector<std::pair<std::string, ModelStats>>& models,
                            int in_flight) const {
  std::ostringstream out;
  std::lock_guard<std::mutex> lock(mutex_);
  out << "# HELP clipembed_http_requests_total HTTP requests answered, by route and status.\n"
         "# TYPE clipembed_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out << "clipembed_http_requests_total{route=\"" << label(key.first) << "\",status=\""
        << key.second << "\"} " << n << "\n";
  }
  out << "# HELP clipembed_http_errors_total Failed requests, by route and error code.\n"
         "# TYPE clipembed_http_errors_total counter\n";
  for (const auto& [key, n] : errors_) {
    out << "clipembed_http_errors_total{route=\"" << label(key.first) << "\",code=\""
        << label(key.second) << "\"} " << n << "\n";
  }
  out << "# HELP clipembed_http_request_duration_seconds Time to answer a request.\n"
         "# TYPE clipembed_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < h.counts.size(); ++b) {
      cumulative += h.counts[b];
      const std::string le = b < std::size(kLatencyBounds) ? number(kLatencyBounds[b]) : "+Inf";
      out << "clipembed_http_request_duration_seconds_bucket{route=\"" << label(route) << "\",le=\""
          << le << "\"} " << cumulative << "\n";
    }
    out << "clipembed_http_request_duration_seconds_sum{route=\"" << label(route) << "\"} "
        << number(h.sum) << "\n"
        << "clipembed_http_request_duration_seconds_count{route=\"" << label(route) << "\"} "
        << h.total << "\n";
  }
  out << "# HELP clipembed_http_in_flight Requests being answered now.\n"
         "# TYPE clipembed_http_in_flight gauge\nclipembed_http_in_flight "
      << in_flight << "\n";

  auto per_model = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& [key, s] : models) {
      out << name << "{model=\"" << label(key) << "\"} " << value(s) << "\n";
    }
  };
  per_model("clipembed_queue_depth", "gauge", "Requests admitted and not yet answered.",
            [](const ModelStats& s) { return s.queued; });
  per_model("clipembed_images_embedded_total", "counter", "Images run through the model.",
            [](const ModelStats& s) { return s.images; });
  per_model("clipembed_model_loaded", "gauge", "1 when the model is in memory.",
            [](const ModelStats& s) { return s.loaded ? 1 : 0; });
  per_model("clipembed_workers", "gauge", "Workers (execution slots) of the model.",
            [](const ModelStats& s) { return s.workers; });
  per_model("clipembed_model_load_seconds", "gauge", "Wall time of the latest load.",
            [](const ModelStats& s) { return number(s.last_load_seconds); });
  out << "# HELP clipembed_batch_size Images per forward pass.\n"
         "# TYPE clipembed_batch_size histogram\n";
  for (const auto& [key, s] : models) {
    uint64_t count = 0, sum = 0;
    for (size_t n = 1; n < s.batch_sizes.size(); ++n) {
      count += s.batch_sizes[n];
      sum += n * s.batch_sizes[n];
    }
    for (int bound : kBatchBounds) {
      uint64_t le = 0;
      for (size_t n = 1; n < s.batch_sizes.size() && n <= static_cast<size_t>(bound); ++n) {
        le += s.batch_sizes[n];
      }
      out << "clipembed_batch_size_bucket{model=\"" << label(key) << "\",le=\"" << bound << "\"} "
          << le << "\n";
    }
    out << "clipembed_batch_size_bucket{model=\"" << label(key) << "\",le=\"+Inf\"} " << count
        << "\n"
        << "clipembed_batch_size_sum{model=\"" << label(key) << "\"} " << sum << "\n"
        << "clipembed_batch_size_count{model=\"" << label(key) << "\"} " << count << "\n";
  }
  return out.str();
}

}  // namespace clipembed::server
