// Internal: strict base64 decoding of plain text or data: URIs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace clipembed::io {

// Decodes standard base64 (RFC 4648 alphabet, '=' padding required to a multiple of 4 characters)
// or a `data:image/...;base64,` URI. Whitespace is not allowed inside the data. Throws
// Error(kInvalidBase64) on any malformed input, naming the offending position, and when the decoded
// size would exceed `max_decoded_bytes`.
std::vector<uint8_t> decode_base64(std::string_view text, size_t max_decoded_bytes);

// Checks what decode_base64 would (without a size limit), decoding nothing: the same
// Error(kInvalidBase64) for malformed input.
void check_base64(std::string_view text);

// Standard base64 with '=' padding.
std::string encode_base64(const uint8_t* data, size_t size);

}  // namespace clipembed::io
