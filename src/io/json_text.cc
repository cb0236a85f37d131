#include "io/json_text.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace clipembed::io {

std::string json_string(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_json_floats(std::string& out, std::span<const float> values) {
  out += '[';
  char buf[32];
  for (size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += ", ";
    if (!std::isfinite(values[i])) {
      out += "null";
      continue;
    }
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, values[i]);
    out.append(buf, ec == std::errc() ? end : buf);
  }
  out += ']';
}

}  // namespace clipembed::io
