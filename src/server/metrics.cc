#include "server/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "clipembed/version.h"

namespace clipembed::server {
namespace {

constexpr int kBatchBounds[] = {1, 2, 4, 8, 16, 32, 64};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

// The series of one histogram: cumulative buckets, +Inf, sum and count. `labels` is "" or
// `key="value"` pairs without braces.
void histogram(std::ostringstream& out, const char* name, const std::string& labels,
               const DurationHistogram& h) {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < h.counts.size(); ++b) {
    cumulative += h.counts[b];
    const std::string le =
        b < std::size(DurationHistogram::kBounds) ? number(DurationHistogram::kBounds[b]) : "+Inf";
    out << name << "_bucket{" << labels << sep << "le=\"" << le << "\"} " << cumulative << "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out << name << "_sum" << braces << " " << number(h.sum) << "\n"
      << name << "_count" << braces << " " << h.count << "\n";
}

// The process' own figures, from /proc (Linux): what Prometheus client libraries export as
// process_*. Absent figures (another OS, a restricted /proc) are left out.
struct ProcessFigures {
  double cpu_seconds = -1, start_time = -1, resident_bytes = -1, open_fds = -1;
};

ProcessFigures process_figures() {
  ProcessFigures f;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name (which may hold spaces, so start after its ')').
    const size_t close = line.rfind(')');
    std::istringstream rest(close == std::string::npos ? "" : line.substr(close + 2));
    std::vector<std::string> fields;
    for (std::string field; rest >> field;) fields.push_back(field);
    // Fields 3.. of proc(5) from index 0: utime is 14, stime 15, starttime 22.
    if (fields.size() > 19) {
      f.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
      std::ifstream boot("/proc/stat");
      for (std::string key; boot >> key;) {
        if (key == "btime") {
          double btime = 0;
          boot >> btime;
          f.start_time = btime + std::stod(fields[19]) / ticks;
          break;
        }
      }
    }
  }
  std::ifstream statm("/proc/self/statm");
  double pages = 0, resident = 0;
  if (statm >> pages >> resident) f.resident_bytes = resident * static_cast<double>(getpagesize());
  if (DIR* dir = opendir("/proc/self/fd")) {
    int n = 0;
    while (const dirent* e = readdir(dir)) n += e->d_name[0] != '.';
    closedir(dir);
    f.open_fds = n - 1;  // Less the descriptor reading the directory.
  }
  return f;
}

}  // namespace

std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Metrics::record(const std::string& route, int status, double seconds,
                     const std::string& error_code) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  if (!error_code.empty()) ++errors_[{route, error_code}];
  latency_[route].add(seconds);
}

std::string Metrics::render(const ServerSnapshot& s) const {
  std::ostringstream out;
  family(out, "clipembed_build_info", "gauge", "Version, commit and kernel ISA; always 1.");
  out << "clipembed_build_info{version=\"" << escape_label(version()) << "\",commit=\""
      << escape_label(build_commit()) << "\",isa=\"" << escape_label(kernel_isa()) << "\"} 1\n";
  const ProcessFigures p = process_figures();
  auto single = [&](const char* name, const char* type, const char* help, double value) {
    if (value < 0) return;
    family(out, name, type, help);
    out << name << " " << number(value) << "\n";
  };
  single("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
         p.cpu_seconds);
  single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         p.resident_bytes);
  single("process_open_fds", "gauge", "Number of open file descriptors.", p.open_fds);
  single("process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.", p.start_time);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    family(out, "clipembed_http_requests_total", "counter",
           "HTTP requests answered, by route and status.");
    for (const auto& [key, n] : requests_) {
      out << "clipembed_http_requests_total{route=\"" << escape_label(key.first) << "\",status=\""
          << key.second << "\"} " << n << "\n";
    }
    family(out, "clipembed_http_errors_total", "counter",
           "Failed requests, by route and error code.");
    for (const auto& [key, n] : errors_) {
      out << "clipembed_http_errors_total{route=\"" << escape_label(key.first) << "\",code=\""
          << escape_label(key.second) << "\"} " << n << "\n";
    }
    family(out, "clipembed_http_request_duration_seconds", "histogram",
           "Time from a request's header to its answer.");
    for (const auto& [route, h] : latency_) {
      histogram(out, "clipembed_http_request_duration_seconds",
                "route=\"" + escape_label(route) + "\"", h);
    }
  }
  single("clipembed_http_in_flight_requests", "gauge",
         "API requests being answered now (health and metrics requests not counted).", s.in_flight);
  single("clipembed_http_connections", "gauge", "Open client connections.",
         static_cast<double>(s.connections));
  single("clipembed_url_downloads", "gauge", "URL inputs being downloaded now.",
         static_cast<double>(s.pool.url_downloads));
  single("clipembed_url_downloads_waiting", "gauge",
         "Admitted URL inputs waiting for a download slot.",
         static_cast<double>(s.pool.url_downloads_waiting));
  single("clipembed_decode_reserved_bytes", "gauge",
         "Pixel memory reserved by image decodes in flight.",
         static_cast<double>(s.pool.decode_bytes));

  auto per_model = [&](const char* name, const char* type, const char* help, auto value) {
    family(out, name, type, help);
    for (const auto& [key, m] : s.models) {
      out << name << "{model=\"" << escape_label(key) << "\"} " << value(m) << "\n";
    }
  };
  per_model("clipembed_queue_depth", "gauge",
            "Inputs admitted and not yet answered (downloading, decoding or queued).",
            [](const ModelStats& m) { return m.queued; });
  per_model("clipembed_queue_waiting_inputs", "gauge",
            "Inputs of requests waiting for room in the queue (admitted whole, in order).",
            [](const ModelStats& m) { return m.waiting; });
  per_model("clipembed_images_embedded_total", "counter", "Images run through the model.",
            [](const ModelStats& m) { return m.images; });
  per_model("clipembed_texts_embedded_total", "counter", "Texts run through the model.",
            [](const ModelStats& m) { return m.texts; });
  per_model("clipembed_model_loaded", "gauge", "1 when the model is in memory.",
            [](const ModelStats& m) { return m.loaded ? 1 : 0; });
  per_model("clipembed_workers", "gauge", "Workers (execution slots) of the model.",
            [](const ModelStats& m) { return m.workers; });
  per_model("clipembed_model_load_seconds", "gauge", "Wall time of the latest load.",
            [](const ModelStats& m) { return number(m.last_load_seconds); });
  per_model("clipembed_stalled_seconds", "gauge",
            "How long queued work has waited without the model making progress.",
            [](const ModelStats& m) { return number(m.stalled_seconds); });
  family(out, "clipembed_queue_wait_seconds", "histogram",
         "Time from an input's admission to the start of its forward pass.");
  for (const auto& [key, m] : s.models) {
    histogram(out, "clipembed_queue_wait_seconds", "model=\"" + escape_label(key) + "\"",
              m.queue_wait);
  }
  family(out, "clipembed_forward_seconds", "histogram", "Time of each forward pass (a batch).");
  for (const auto& [key, m] : s.models) {
    histogram(out, "clipembed_forward_seconds", "model=\"" + escape_label(key) + "\"", m.forward);
  }
  family(out, "clipembed_batch_size", "histogram", "Inputs per forward pass.");
  for (const auto& [key, m] : s.models) {
    const std::string model = escape_label(key);
    uint64_t count = 0, sum = 0;
    for (size_t n = 1; n < m.batch_sizes.size(); ++n) {
      count += m.batch_sizes[n];
      sum += n * m.batch_sizes[n];
    }
    for (int bound : kBatchBounds) {
      uint64_t le = 0;
      for (size_t n = 1; n < m.batch_sizes.size() && n <= static_cast<size_t>(bound); ++n) {
        le += m.batch_sizes[n];
      }
      out << "clipembed_batch_size_bucket{model=\"" << model << "\",le=\"" << bound << "\"} " << le
          << "\n";
    }
    out << "clipembed_batch_size_bucket{model=\"" << model << "\",le=\"+Inf\"} " << count << "\n"
        << "clipembed_batch_size_sum{model=\"" << model << "\"} " << sum << "\n"
        << "clipembed_batch_size_count{model=\"" << model << "\"} " << count << "\n";
  }
  return out.str();
}

}  // namespace clipembed::server
