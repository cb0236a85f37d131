#include "cli/json_lines.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace clipembed::cli {
namespace {

// File names need not be UTF-8; invalid bytes become U+FFFD rather than failing the record.
std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string embedding_line(const std::string& path, std::span<const float> embedding) {
  std::string out = "{\"path\": " + json_string(path) + ", \"embedding\": [";
  char buf[32];
  for (size_t i = 0; i < embedding.size(); ++i) {
    if (i != 0) out += ", ";
    if (!std::isfinite(embedding[i])) {
      out += "null";  // JSON has no NaN or infinity.
      continue;
    }
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, embedding[i]);
    out.append(buf, ec == std::errc() ? end : buf);
  }
  out += "]}";
  return out;
}

std::string error_line(const std::string& path, std::string_view code, const std::string& message) {
  return "{\"path\": " + json_string(path) + ", \"error\": {\"code\": " + json_string(code) +
         ", \"message\": " + json_string(message) + "}}";
}

}  // namespace clipembed::cli
