#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace clipembed::server {

ApiError api_error_for(const Error& error, const std::string& where) {
  ApiError e;
  e.code = std::string(code_name(error.code()));
  e.message = where.empty() ? error.what() : where + ": " + error.what();
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kImageDecode:
    case ErrorCode::kUnsupported:
    case ErrorCode::kInvalidBase64:
    case ErrorCode::kIo:
    case ErrorCode::kUrlInvalid:
    case ErrorCode::kUrlDns:
    case ErrorCode::kUrlConnect:
    case ErrorCode::kUrlTimeout:
    case ErrorCode::kUrlStatus:
    case ErrorCode::kUrlTooLarge:
    case ErrorCode::kUrlRedirects:
    case ErrorCode::kUrlFetch:
    case ErrorCode::kUrlForbidden:
    case ErrorCode::kInvalidText:
    case ErrorCode::kUnsupportedModality:
    case ErrorCode::kNotAnImage:
    case ErrorCode::kUrlInputsDisabled:
      e.status = 400;
      e.type = "invalid_request_error";
      break;
    case ErrorCode::kTextTooLarge:
    case ErrorCode::kImageTooLarge:
    case ErrorCode::kRequestTooLarge:
      e.status = 413;
      e.type = "invalid_request_error";
      break;
    case ErrorCode::kOverloaded:
      e.status = 429;
      e.type = "rate_limit_error";
      e.retry_after_seconds = 1;
      break;
    case ErrorCode::kDeadlineExceeded:
      e.status = 504;
      e.type = "timeout_error";
      break;
    case ErrorCode::kCancelled:
    case ErrorCode::kUnavailable:
    case ErrorCode::kMemoryExhausted:
      e.status = 503;
      e.type = "service_unavailable";
      e.retry_after_seconds = 5;
      break;
    case ErrorCode::kModelInvalid:
    case ErrorCode::kIndexInvalid:
    case ErrorCode::kInternal:
      e.status = 500;
      e.type = "server_error";
      break;
  }
  return e;
}

ApiError bad_request(const std::string& message, const std::string& code) {
  return ApiError{400, "invalid_request_error", code, message, 0};
}

std::string error_body(const ApiError& error) {
  nlohmann::json body = {
      {"error", {{"message", error.message}, {"type", error.type}, {"code", error.code}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace clipembed::server
