// Internal: how the HTTP server reports failures: an OpenAI-style JSON body
// {"error": {"message", "type", "code"}} with the status that tells a client what to do.
#pragma once

#include <string>

#include "clipembed/error.h"

namespace clipembed::server {

struct ApiError {
  int status = 500;
  std::string type;  // OpenAI's kinds: invalid_request_error, authentication_error, ...
  std::string code;  // Ours: image_decode, model_not_found, ...
  std::string message;
  int retry_after_seconds = 0;  // Sent as Retry-After when > 0 (429, 503).
};

// The answer to an engine error for one input; `where` (e.g. "input[3]") prefixes the message.
// Bad input (decode, base64, URL failures) is 400; an image, text or request too large ever to
// be taken 413; a full queue or decode memory that is busy now 429; a missed deadline 504;
// shutting down, an open breaker or no memory 503; anything else 500.
ApiError api_error_for(const Error& error, const std::string& where);

ApiError bad_request(const std::string& message, const std::string& code = "invalid_request");

// The JSON body.
std::string error_body(const ApiError& error);

}  // namespace clipembed::server
