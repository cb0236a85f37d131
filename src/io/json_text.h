// Internal: JSON text that nlohmann::json writes less well, shared by the CLI's JSON Lines and the
// server's embeddings responses.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace clipembed::io {

// A JSON string literal (quoted, escaped). Bytes that are not UTF-8 (file names need not be)
// become U+FFFD rather than failing.
std::string json_string(std::string_view text);

// Appends "[v0, v1, ...]": each float in its shortest form that reads back as the same float
// (nlohmann::json widens to double and prints 17 digits, 40% more text for the same bits), and
// null for NaN and infinities, which JSON cannot express.
void append_json_floats(std::string& out, std::span<const float> values);

}  // namespace clipembed::io
