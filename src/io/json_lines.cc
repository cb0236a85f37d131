#include "io/json_lines.h"

#include "io/json_text.h"

namespace clipembed::io {

namespace {

// '{"<key>": ' (appended to, not concatenated: GCC 12 warns falsely on chains of string +).
std::string record_start(std::string_view key) {
  std::string out = "{";
  out += io::json_string(key);
  out += ": ";
  return out;
}

}  // namespace

std::string embedding_line(std::string_view key, const std::string& input,
                           std::span<const float> embedding) {
  std::string out = record_start(key);
  out += io::json_string(input);
  out += ", \"embedding\": ";
  io::append_json_floats(out, embedding);
  out += '}';
  return out;
}

std::string error_line(std::string_view key, const std::string& input, std::string_view code,
                       const std::string& message) {
  std::string out = record_start(key);
  out += io::json_string(input);
  out += ", \"error\": {\"code\": ";
  out += io::json_string(code);
  out += ", \"message\": ";
  out += io::json_string(message);
  out += "}}";
  return out;
}

std::optional<std::string> line_input(std::string_view key, std::string_view line) {
  const std::string prefix = record_start(key);
  if (!line.starts_with(prefix)) return std::nullopt;
  // The string literal that follows: up to the first quote no backslash escapes.
  const size_t begin = prefix.size();
  for (size_t i = begin + 1; i < line.size(); ++i) {
    if (line[i] == '\\') {
      ++i;
    } else if (line[i] == '"') {
      return io::parse_json_string(line.substr(begin, i + 1 - begin));
    }
  }
  return std::nullopt;
}

}  // namespace clipembed::io
