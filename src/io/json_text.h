// Internal: JSON text that nlohmann::json writes less well, shared by the CLI's JSON Lines and the
// server's embeddings responses.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace clipembed::io {

// A JSON string literal (quoted, escaped) that keeps any bytes recoverable: valid UTF-8 is
// written as is (control characters, quotes and backslashes escaped), and each byte that is not
// part of valid UTF-8 as \udcXX, Python's "surrogateescape" (PEP 383). A file name is therefore
// never lost: os.fsencode(json.loads(line)) in Python, or parse_json_string() here, gives back its
// exact bytes.
std::string json_string(std::string_view text);

// The bytes of a JSON string literal written by json_string() (or any JSON string): escapes
// decoded, \udcXX back to byte XX. nullopt when `literal` is not one complete string literal.
std::optional<std::string> parse_json_string(std::string_view literal);

// Appends one float as append_json_floats() writes each.
void append_json_float(std::string& out, float value);

// Appends "[v0, v1, ...]": each float in its shortest form that reads back as the same float
// (nlohmann::json widens to double and prints 17 digits, 40% more text for the same bits), and
// null for NaN and infinities, which JSON cannot express.
void append_json_floats(std::string& out, std::span<const float> values);

}  // namespace clipembed::io
