#include "clipembed/error.h"

namespace clipembed {

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kModelInvalid:
      return "model_invalid";
    case ErrorCode::kImageDecode:
      return "image_decode";
    case ErrorCode::kImageTooLarge:
      return "image_too_large";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kInvalidBase64:
      return "invalid_base64";
    case ErrorCode::kOverloaded:
      return "overloaded";
    case ErrorCode::kRequestTooLarge:
      return "request_too_large";
    case ErrorCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kMemoryExhausted:
      return "memory_exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kUrlInvalid:
      return "url_invalid";
    case ErrorCode::kUrlDns:
      return "url_dns";
    case ErrorCode::kUrlConnect:
      return "url_connect";
    case ErrorCode::kUrlTimeout:
      return "url_timeout";
    case ErrorCode::kUrlStatus:
      return "url_status";
    case ErrorCode::kUrlTooLarge:
      return "url_too_large";
    case ErrorCode::kUrlRedirects:
      return "url_redirects";
    case ErrorCode::kUrlFetch:
      return "url_fetch";
    case ErrorCode::kUrlForbidden:
      return "url_forbidden";
    case ErrorCode::kInvalidText:
      return "invalid_text";
    case ErrorCode::kTextTooLarge:
      return "text_too_large";
    case ErrorCode::kUnsupportedModality:
      return "unsupported_modality";
    case ErrorCode::kNotAnImage:
      return "not_an_image";
    case ErrorCode::kUrlInputsDisabled:
      return "url_inputs_disabled";
    case ErrorCode::kIndexInvalid:
      return "index_invalid";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace clipembed
