#include "cli/json_lines.h"

#include "io/json_text.h"

namespace clipembed::cli {

std::string embedding_line(const std::string& path, std::span<const float> embedding) {
  std::string out = "{\"path\": " + io::json_string(path) + ", \"embedding\": ";
  io::append_json_floats(out, embedding);
  out += '}';
  return out;
}

std::string error_line(const std::string& path, std::string_view code, const std::string& message) {
  return "{\"path\": " + io::json_string(path) +
         ", \"error\": {\"code\": " + io::json_string(code) +
         ", \"message\": " + io::json_string(message) + "}}";
}

}  // namespace clipembed::cli
