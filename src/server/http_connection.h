// Internal: one HTTP/1.1 connection of `clipembed serve`, on Boost.Beast over Asio.
//
// Strict framing, bounded memory and time, whatever the client does:
//   - the header (request line and fields) must arrive within header_timeout and fit
//     max_header_bytes (a request line longer than max_request_line is 414, the rest 431); more
//     than max_header_count fields, or one longer than max_header_line, is 431;
//   - malformed framing (bare LF, a bad or duplicate Content-Length, any Transfer-Encoding other
//     than exactly "chunked", a malformed chunk) is 400 and the connection is closed;
//   - an HTTP/1.1 request names exactly one Host (else 400); an HTTP/1.0 request with a
//     Transfer-Encoding is answered and the connection closed (RFC 9112 sections 3.2, 6.1);
//   - the body must fit max_body_bytes (else 413) and arrive at min_body_rate bytes/s (plus
//     header_timeout; else 400 incomplete_body, then close); a request refused before its body
//     is read (401, 404, 415, 503...) is answered at once, then its body (up to drain_limit
//     bytes) is read and dropped to keep the connection, or the connection closes;
//   - "Expect: 100-continue" gets "100 Continue" once the header is accepted, or the refusal at
//     once (and the connection closes: the client may or may not send the body);
//   - an answer to HEAD has the GET's header, Content-Length included, and no body;
//   - pipelined requests are answered in order, one at a time; an idle keep-alive connection is
//     closed after idle_timeout;
//   - while a request is being answered, the connection watches its socket: a client that hangs
//     up cancels the request (its queued inputs and downloads stop).
// Everything runs on the connection's strand on the I/O threads; a handler answers from any
// thread through its Respond callback, which comes back to the strand. No I/O thread waits on a
// model.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "clipembed/embedder.h"

namespace clipembed::server {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using HttpHeader = http::request_header<>;

struct HttpLimits {
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};  // Between requests on a kept-alive connection.
  uint64_t min_body_rate = 64 * 1024;             // Bytes per second a body must keep up.
  size_t max_request_line = 8 * 1024;
  size_t max_header_bytes = 32 * 1024;  // The request line and every field together.
  size_t max_header_count = 100;
  size_t max_header_line = 8 * 1024;
  uint64_t max_body_bytes = 64u << 20;
  uint64_t drain_limit = 1u << 20;  // Bodies of refused requests read (to keep the connection).
};

// What a finished request leaves for the access log and metrics.
struct RequestRecord {
  std::string request_id, method, route, model, error_code;
  int status = 0;
  double seconds = 0;
  size_t items = 0;       // Inputs embedded (or asked for).
  uint64_t bytes_in = 0;  // Body bytes read.
  uint64_t bytes_out = 0;
  bool admitted = false;  // The handler accepted it (check() returned nullopt).
  bool api = false;       // Admitted as an API request (counted against max_in_flight).
};

// The application behind the connections (the API), called on I/O threads.
class HttpHandler {
 public:
  // Called once per answer: what it sends, and what to record.
  using Respond = std::function<void(HttpResponse response, RequestRecord record)>;

  virtual ~HttpHandler() = default;

  // After the header, before the body: an early answer (unknown route, wrong key, unsupported
  // encoding, draining, overloaded...), or nullopt to read the body and call handle(). Sets
  // record.route.
  virtual std::optional<HttpResponse> check(const HttpHeader& header, RequestRecord& record) = 0;

  // The whole request: answer through `respond` exactly once, from any thread. `cancellation` is
  // cancelled if the client goes away first.
  virtual void handle(HttpRequest request, RequestRecord record,
                      std::shared_ptr<Cancellation> cancellation, Respond respond) = 0;

  // Exactly once per request whose header was read: once its answer is written, or once the
  // connection gave up on it (the client left, the server stopped).
  virtual void finished(const RequestRecord& record) = 0;

  // An answer in the API's error shape (used for framing errors found by the connection).
  virtual HttpResponse error_response(int status, const std::string& code,
                                      const std::string& message) = 0;
};

// What a listener's connections share with it. A connection can outlive its listener (a pool
// callback still holds the request it answers), so this is shared: the I/O context its socket
// belongs to lives as long as the last connection does, and once the listener has stopped a
// connection no longer calls the handler (which may be gone).
struct ConnectionHub {
  ConnectionHub(const HttpLimits& l, HttpHandler& h) : limits(l), handler(h) {}

  boost::asio::io_context context;
  const HttpLimits limits;
  HttpHandler& handler;         // Valid while !stopped.
  std::atomic<size_t> open{0};  // Connections alive.
  std::mutex mutex;             // Held while setting `stopped` and while reporting to handler.
  std::atomic<bool> stopped{false};
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  // The socket must belong to hub->context (on a strand).
  HttpConnection(boost::asio::ip::tcp::socket socket, std::shared_ptr<ConnectionHub> hub);
  ~HttpConnection();

  // Starts reading requests (on the connection's strand).
  void start();
  // Closes the socket now (from any thread), cancelling the request in flight.
  void close();

 private:
  void read_header();
  void on_header(boost::beast::error_code ec);
  void read_body();
  void on_body(boost::beast::error_code ec);
  // Sends the answer to a request refused on its header at once, then drains its body (or
  // closes, when the body is large, chunked or awaited behind 100 Continue).
  void refuse(HttpResponse early);
  void drain_body();
  void dispatch();
  void watch_socket();
  void send(HttpResponse response, RequestRecord record, bool close_after);
  void on_written(boost::beast::error_code ec, bool close_after);
  // A framing error: answered (when the socket still takes it) and the connection closed.
  void fail(int status, const std::string& code, const std::string& message);
  void shut_down();
  void linger();
  void body_too_large();
  void finish_record();

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace clipembed::server
