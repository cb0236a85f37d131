#include "server/access_log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "io/json_text.h"

namespace clipembed::server {
namespace {

// The current UTC time as 2026-11-30T14:02:03.512Z.
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(millis));
  return buf;
}

std::string milliseconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds * 1000);
  return buf;
}

}  // namespace

std::string access_log_line(const RequestRecord& r, LogFormat format) {
  if (format == LogFormat::kJson) {
    std::string out = "{\"time\": \"" + timestamp() + "\"";
    out += ", \"request_id\": " + io::json_string(r.request_id);
    out += ", \"method\": " + io::json_string(r.method);
    out += ", \"route\": " + io::json_string(r.route);
    out += ", \"status\": " + std::to_string(r.status);
    out += ", \"duration_ms\": " + milliseconds(r.seconds);
    out += ", \"items\": " + std::to_string(r.items);
    out += ", \"bytes_in\": " + std::to_string(r.bytes_in);
    out += ", \"bytes_out\": " + std::to_string(r.bytes_out);
    if (!r.model.empty()) out += ", \"model\": " + io::json_string(r.model);
    if (!r.error_code.empty()) out += ", \"error\": " + io::json_string(r.error_code);
    return out + "}";
  }
  std::string out = timestamp() + " " + r.request_id + " " + r.method + " " + r.route + " " +
                    std::to_string(r.status) + " " + milliseconds(r.seconds) + "ms";
  out += " items=" + std::to_string(r.items) + " in=" + std::to_string(r.bytes_in) +
         "B out=" + std::to_string(r.bytes_out) + "B";
  // The model name is the operator's (--model NAME=...), the error code ours; the method is
  // Beast's parsed token. Nothing here comes from a body.
  if (!r.model.empty()) out += " model=" + r.model;
  if (!r.error_code.empty()) out += " error=" + r.error_code;
  return out;
}

namespace {

// One write() of a line is atomic with respect to other writers' lines for any sane length
// (stderr is unbuffered, so fwrite could split it). A failed write (stderr piped into a reader
// that has gone: EPIPE, with SIGPIPE ignored) loses the line and nothing else.
void write_line(const std::string& line) {
  const ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

void write_access_log(const RequestRecord& record, LogFormat format) {
  if (format == LogFormat::kOff) return;
  write_line(access_log_line(record, format) + "\n");
}

std::string event_log_line(std::string_view level, std::string_view message, LogFormat format) {
  if (format != LogFormat::kJson) return "clipembed serve: " + std::string(message);
  return "{\"time\": \"" + timestamp() + "\", \"level\": " + io::json_string(level) +
         ", \"message\": " + io::json_string(message) + "}";
}

void write_event_log(std::string_view level, std::string_view message, LogFormat format) {
  write_line(event_log_line(level, message, format) + "\n");
}

}  // namespace clipembed::server
