// Test support: a raw TCP client for HTTP tests that must control every byte (hostile framing,
// pipelining, trickling, half-sent headers), and a reader of the answers that come back.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace clipembed::testing {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // Names lower-cased.
  std::string body;
  std::string header(const std::string& name) const;
};

class RawConnection {
 public:
  explicit RawConnection(int port);  // Connects to 127.0.0.1 (fails the test if it cannot).
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of `bytes`; false once the peer has closed (EPIPE, reset).
  bool send(const std::string& bytes);
  // Sends `bytes` on a background thread while the caller reads (for bodies larger than the
  // socket buffers, which the server may answer before it has read them). `bytes` must outlive
  // the connection (the destructor joins the thread).
  void send_async(const std::string& bytes);
  void shutdown_write();
  // Reads one response (status line, headers, Content-Length or chunked body); nullopt if the
  // connection closed or `timeout` passed first. With `head_only`, the answer to a HEAD: its header
  // alone, whatever its Content-Length says.
  std::optional<RawResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000), bool head_only = false);
  // Bytes received and not yet read as part of a response.
  const std::string& unread() const { return buffer_; }
  // True when the server closes the connection within `timeout` (all further data dropped).
  bool closed_within(std::chrono::milliseconds timeout);
  int fd() const { return fd_; }

 private:
  // Reads more bytes into buffer_; false at EOF, on error, or past the deadline.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  std::vector<std::thread*> senders_;
};

// A minimal HTTP/1.1 request: method, target, body (with Content-Length when not empty) and extra
// header lines ("Name: value").
std::string http_request(const std::string& method, const std::string& target,
                         const std::string& body = "",
                         const std::vector<std::string>& headers = {});

// Peak resident memory of this process in bytes (VmHWM), and a reset of it (/proc/self/clear_refs),
// so that a test can measure the peak of one operation.
size_t peak_rss_bytes();
size_t current_rss_bytes();
void reset_peak_rss();

}  // namespace clipembed::testing
