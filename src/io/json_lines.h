// Internal: the JSON Lines records the CLI prints, one per input. The input (a path or a text) is
// the record's first field, written by io::json_string (any bytes recoverable).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace clipembed::io {

// {"<key>": input, "embedding": [...]} with floats in their shortest round-trip form.
std::string embedding_line(std::string_view key, const std::string& input,
                           std::span<const float> embedding);

// {"<key>": input, "error": {"code": ..., "message": ...}}
std::string error_line(std::string_view key, const std::string& input, std::string_view code,
                       const std::string& message);

// The exact input of a line written by the functions above (its first field, `key`), or nullopt.
std::optional<std::string> line_input(std::string_view key, std::string_view line);

}  // namespace clipembed::io
