// Internal: the OpenAI-style embeddings API's request and response bodies.
//   request:  {"model": M, "input": STRING | [STRING...], "encoding_format": "float" | "base64"}
//   response: {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": ...}],
//              "model": M, "usage": {"prompt_tokens": 0, "total_tokens": 0}}
// With "base64", each embedding is the base64 of its little-endian float32 values, as OpenAI's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_error.h"

namespace clipembed::server {

struct EmbeddingsRequest {
  std::string model;  // "" when the request names none (the server's default applies).
  std::vector<std::string> inputs;
  bool base64_output = false;
};

// Parses and validates a request body; throws ApiError (400, or 413 past `max_items` inputs).
EmbeddingsRequest parse_embeddings_request(std::string_view body, size_t max_items);

// `vectors`: one per input, in order.
std::string embeddings_response(const std::string& model,
                                const std::vector<std::vector<float>>& vectors, bool base64);

}  // namespace clipembed::server
