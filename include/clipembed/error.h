// clipembed/error.h: the one error type of the library.
//
//   try {
//     auto model = clipembed::ClipModel::load("models/clip-vit-base-patch32");
//   } catch (const clipembed::Error& e) {
//     std::cerr << clipembed::code_name(e.code()) << ": " << e.what() << "\n";
//   }
//
// Every failure that reaches a caller is a clipembed::Error. Its code says what kind of failure it
// is (stable, machine-readable); its message says what went wrong and names the file or tensor.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace clipembed {

enum class ErrorCode {
  kInvalidArgument,  // A caller passed a value the API does not accept.
  kIo,               // A file could not be opened, read, mapped or written.
  kModelInvalid,   // A model directory, config or weight file is missing, malformed or mismatched.
  kImageDecode,    // Bytes are not a supported image or are corrupt or truncated.
  kImageTooLarge,  // An image has more pixels than the configured limit.
  kUnsupported,    // A valid input uses a feature clipembed does not implement.
  kInvalidBase64,  // Base64 text or a data: URI is malformed.
  kOverloaded,     // A queue is full; retry later.
  kRequestTooLarge,      // A request has more inputs than a queue can ever admit; split it.
  kDeadlineExceeded,     // A request did not complete within its deadline.
  kCancelled,            // The pool shut down before the request ran.
  kMemoryExhausted,      // Loading would exceed the memory budget.
  kUnavailable,          // A model's circuit breaker is open after repeated engine faults.
  kUrlInvalid,           // A URL is malformed or not http(s).
  kUrlDns,               // A URL's host name did not resolve.
  kUrlConnect,           // The connection to a URL's host was refused or failed.
  kUrlTimeout,           // Connecting or downloading took longer than allowed.
  kUrlStatus,            // The server answered with an HTTP error status.
  kUrlTooLarge,          // The download exceeded the size limit.
  kUrlRedirects,         // Too many redirects (or a redirect loop).
  kUrlFetch,             // Any other transfer failure.
  kUrlForbidden,         // A URL leads to a private, loopback or link-local address (not allowed).
  kInvalidText,          // A text is not valid UTF-8.
  kTextTooLarge,         // A text is longer than the configured limit.
  kUnsupportedModality,  // The model has no tower for the input (e.g. text to a vision-only model).
  kNotAnImage,           // An input that must be an image is none of the forms an image takes.
  kUrlInputsDisabled,    // A URL input where URLs are not accepted (a server's --no-url-inputs).
  kIndexInvalid,  // A search index is missing files, malformed, unfinished or built by another
                  // model.
  kInternal,      // A bug or an unexpected failure inside clipembed.
};

// Returns the snake_case name of a code, e.g. "image_decode", as used in JSON output.
std::string_view code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace clipembed
