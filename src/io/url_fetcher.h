// Internal: HTTP(S) downloads through libcurl on one I/O thread, so transfers never occupy compute
// threads. Process-wide; created on first use and joined at exit.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "clipembed/error.h"

namespace clipembed::io {

struct UrlOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{30000};
  size_t max_bytes = 32u << 20;
  int max_redirects = 5;
  // When set, a connection to an address for which it returns true is refused (kUrlForbidden).
  // It sees the resolved address of every connection, the first and each after a redirect, so
  // neither a DNS name nor a redirect gets around it. Proxies are then not used. The pool sets
  // is_non_public_address (io/address_policy.h) unless private addresses are allowed.
  std::function<bool(const sockaddr*)> refuse_address;
};

// Maps a libcurl result (and HTTP status when the transfer itself succeeded) to our error codes.
// Returns ErrorCode::kInternal for success (no error). Exposed for tests.
ErrorCode classify_curl_result(int curl_code, long http_status, bool too_large);

class UrlFetcher {
 public:
  using Done = std::function<void(std::vector<uint8_t>* body, const Error* error)>;

  static UrlFetcher& instance();

  // Starts a download; `done` runs exactly once, on the I/O thread (or at once, in this call, for
  // a URL refused outright), with the body or the error. Only http and https URLs are accepted,
  // on the first request and on every redirect. Returns an id for cancel(). A transfer with an
  // address policy never reuses a connection another transfer opened (nor leaves its own for
  // reuse): a connection opened without the policy might reach an address it refuses.
  uint64_t fetch(const std::string& url, const UrlOptions& options, Done done);

  // Aborts a transfer still in flight: its `done` runs with kCancelled (soon, on the I/O thread).
  // An id that has finished is ignored.
  void cancel(uint64_t id);

  // Transfers started and not yet done.
  size_t in_flight() const;

  ~UrlFetcher();
  UrlFetcher(const UrlFetcher&) = delete;
  UrlFetcher& operator=(const UrlFetcher&) = delete;

 private:
  UrlFetcher();
  struct Impl;
  Impl* impl_;
};

}  // namespace clipembed::io
