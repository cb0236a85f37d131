#include "server/http_connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <random>

namespace clipembed::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

// Bytes of pipelined data a connection takes in while it answers a request (beyond them it stops
// reading, and stops noticing a client that hangs up until the answer is written).
constexpr size_t kWatchBytes = 64 * 1024;

// How long a connection closed after an error keeps reading (and dropping) what the client still
// sends, and how many bytes beyond the body limit (see linger()): enough for a client that writes
// a whole oversized body before it reads the 413.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1u << 20;

// The client's X-Request-Id when it is a sane token (at most 64 of [A-Za-z0-9._-]), else a new
// random one: ids end up in logs and headers, so nothing else is echoed.
std::string request_id(const HttpHeader& header) {
  const auto given = header["x-request-id"];
  if (!given.empty() && given.size() <= 64) {
    bool sane = true;
    for (char c : given) {
      sane =
          sane && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    }
    if (sane) return std::string(given);
  }
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  const uint64_t bits = rng();
  for (int i = 0; i < 16; ++i) id[static_cast<size_t>(i)] = kHex[(bits >> (4 * i)) & 15];
  return id;
}

}  // namespace

struct HttpConnection::State {
  State(net::ip::tcp::socket socket, std::shared_ptr<ConnectionHub> h)
      : hub(std::move(h)),
        stream(std::move(socket)),
        buffer(hub->limits.max_header_bytes + kWatchBytes),
        limits(hub->limits),
        handler(hub->handler),
        body_timer(stream.get_executor()) {}

  // First, so that it goes last: the socket must close before its I/O context can go.
  const std::shared_ptr<ConnectionHub> hub;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  const HttpLimits& limits;
  HttpHandler& handler;
  RequestRecord record;
  Clock::time_point started;
  std::shared_ptr<Cancellation> cancellation;  // Of the request being answered.
  std::shared_ptr<HttpResponse> writing;       // The answer being written.
  bool keep_alive = false;                     // The request asked to keep the connection.
  bool head = false;               // The request is a HEAD: its answer has a header and no body.
  bool expect_continue = false;    // The client waits for "100 Continue" before its body.
  bool drain_after_write = false;  // A refused request's body is read (and dropped) next.
  // The body's deadline: when it fires, the read is cancelled and the client told why (Beast's
  // own stream timeout would close the socket before the answer could be sent).
  net::steady_timer body_timer;
  bool body_timed_out = false;
  bool busy = false;      // A request is being answered (from its header to its answer).
  bool watching = false;  // A read is pending while the request is answered.
  bool resume_after_watch = false;
  bool peer_gone = false;
  bool closed = false;
  bool record_open = false;  // handler.finished() is owed for `record`.
  size_t lingered = 0;       // Bytes dropped while lingering.
};

HttpConnection::HttpConnection(net::ip::tcp::socket socket, std::shared_ptr<ConnectionHub> hub)
    : state_(std::make_unique<State>(std::move(socket), std::move(hub))) {
  ++state_->hub->open;
}

HttpConnection::~HttpConnection() {
  finish_record();
  --state_->hub->open;
}

void HttpConnection::finish_record() {
  State& s = *state_;
  if (!s.record_open) return;
  s.record_open = false;
  // This may run on any thread (the last owner may be a pool callback), so the check that the
  // handler is still there and the call are one step.
  std::lock_guard<std::mutex> lock(s.hub->mutex);
  if (!s.hub->stopped) s.handler.finished(s.record);
}

void HttpConnection::start() {
  net::post(state_->stream.get_executor(), [self = shared_from_this()] { self->read_header(); });
}

void HttpConnection::close() {
  net::post(state_->stream.get_executor(), [self = shared_from_this()] { self->shut_down(); });
}

void HttpConnection::shut_down() {
  State& s = *state_;
  if (s.closed) return;
  s.closed = true;
  s.body_timer.cancel();
  if (s.cancellation != nullptr) s.cancellation->cancel();
  beast::error_code ignored;
  s.stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  s.stream.close();
}

void HttpConnection::read_header() {
  State& s = *state_;
  if (s.closed) return;
  s.busy = false;
  if (s.buffer.size() == 0) {
    // An idle connection waits idle_timeout for its next request to begin...
    s.stream.expires_after(s.limits.idle_timeout);
    s.stream.async_read_some(s.buffer.prepare(s.limits.max_header_bytes),
                             [self = shared_from_this()](beast::error_code ec, size_t n) {
                               if (ec) return self->shut_down();
                               self->state_->buffer.commit(n);
                               self->read_header();
                             });
    return;
  }
  // ...and once its first bytes are here, the whole header must come within header_timeout: a
  // slow client is cut off, whatever it trickles.
  s.parser.emplace();
  s.parser->header_limit(static_cast<uint32_t>(s.limits.max_header_bytes));
  s.parser->body_limit(s.limits.max_body_bytes);
  s.stream.expires_after(s.limits.header_timeout);
  http::async_read_header(
      s.stream, s.buffer, *s.parser,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void HttpConnection::on_header(beast::error_code ec) {
  State& s = *state_;
  if (s.closed || s.hub->stopped) return shut_down();  // The handler may be gone.
  s.busy = true;
  s.keep_alive = false;
  s.head = false;
  s.expect_continue = false;
  s.drain_after_write = false;
  s.body_timed_out = false;
  s.started = Clock::now();
  s.record = RequestRecord{};
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset) {
    return shut_down();  // The client left (or stalled): nothing to answer.
  }
  s.record_open = true;
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    // The request line alone too long is 414; otherwise the fields are (once the parser has
    // read the request line, its target is set and the buffer holds only fields).
    const auto data = s.buffer.data();
    const std::string_view seen(static_cast<const char*>(data.data()), data.size());
    const size_t line_end = seen.find("\r\n");
    if (s.parser->get().target().empty() &&
        (line_end == std::string_view::npos || line_end > s.limits.max_request_line)) {
      return fail(414, "uri_too_long",
                  "the request line is longer than " + std::to_string(s.limits.max_request_line) +
                      " bytes");
    }
    return fail(
        431, "header_too_large",
        "the header is larger than " + std::to_string(s.limits.max_header_bytes) + " bytes");
  }
  if (ec == http::error::body_limit) return body_too_large();
  if (ec) return fail(400, "bad_request", "malformed request: " + ec.message());

  const HttpHeader& header = s.parser->get().base();
  s.keep_alive = s.parser->keep_alive();
  s.head = header.method() == http::verb::head;
  s.record.request_id = request_id(header);
  s.record.method = std::string(header.method_string());
  if (header.target().size() > s.limits.max_request_line) {
    return fail(414, "uri_too_long",
                "the request target is longer than " + std::to_string(s.limits.max_request_line) +
                    " bytes");
  }
  size_t fields = 0, content_lengths = 0, hosts = 0;
  for (const auto& field : header) {
    ++fields;
    if (field.name_string().size() + field.value().size() > s.limits.max_header_line) {
      return fail(
          431, "header_too_large",
          "a header line is longer than " + std::to_string(s.limits.max_header_line) + " bytes");
    }
    if (field.name() == http::field::content_length) ++content_lengths;
    if (field.name() == http::field::host) ++hosts;
  }
  if (fields > s.limits.max_header_count) {
    return fail(431, "header_too_large",
                "more than " + std::to_string(s.limits.max_header_count) + " header fields");
  }
  if (content_lengths > 1) return fail(400, "bad_request", "more than one Content-Length");
  // RFC 9112 section 3.2: every HTTP/1.1 request names its host, and no request names two.
  if (hosts > 1 || (hosts == 0 && header.version() >= 11)) {
    return fail(
        400, "bad_request",
        hosts > 1 ? "more than one Host header" : "an HTTP/1.1 request needs a Host header");
  }
  const auto te = header[http::field::transfer_encoding];
  if (!te.empty() && !beast::iequals(te, "chunked")) {
    return fail(400, "bad_request", "only Transfer-Encoding: chunked is accepted");
  }
  // RFC 9112 section 6.1: HTTP/1.0 has no Transfer-Encoding, so such a message's framing cannot
  // be trusted for what follows it: it is answered, and the connection closed.
  if (!te.empty() && header.version() < 11) s.keep_alive = false;
  s.expect_continue =
      header.version() >= 11 && beast::iequals(header[http::field::expect], "100-continue");

  if (std::optional<HttpResponse> early = s.handler.check(header, s.record)) {
    return refuse(std::move(*early));
  }
  if (!s.expect_continue) return read_body();
  // The client waits for this before it sends the body (curl does for every body over 1 MiB).
  static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  s.stream.expires_after(s.limits.header_timeout);
  net::async_write(s.stream, net::buffer(kContinue),
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     if (ec || self->state_->closed) return self->shut_down();
                     self->read_body();
                   });
}

void HttpConnection::read_body() {
  State& s = *state_;
  // The body has a deadline from its size: the header's allowance plus min_body_rate.
  const uint64_t length = s.parser->content_length().value_or(s.limits.max_body_bytes);
  s.stream.expires_never();
  s.body_timer.expires_after(s.limits.header_timeout +
                             std::chrono::milliseconds(1000 * length / s.limits.min_body_rate));
  s.body_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
    State& st = *self->state_;
    if (ec || st.closed) return;  // Cancelled: the body arrived (or failed) first.
    st.body_timed_out = true;
    beast::error_code ignored;
    st.stream.socket().cancel(ignored);
  });
  http::async_read(
      s.stream, s.buffer, *s.parser,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
}

void HttpConnection::on_body(beast::error_code ec) {
  State& s = *state_;
  s.body_timer.cancel();
  if (s.closed || s.hub->stopped) return shut_down();
  if (ec == http::error::body_limit) return body_too_large();
  if (s.body_timed_out) {
    return fail(400, "incomplete_body",
                "the body did not arrive in time (at least " +
                    std::to_string(s.limits.min_body_rate) + " bytes/s)");
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == net::error::eof) {
    return fail(400, "incomplete_body", "the body was cut short");
  }
  if (ec) return fail(400, "bad_request", "malformed body: " + ec.message());
  dispatch();
}

void HttpConnection::refuse(HttpResponse early) {
  State& s = *state_;
  const auto length = s.parser->content_length();
  const bool chunked = s.parser->chunked();
  if (!chunked && length.value_or(0) == 0) return send(std::move(early), s.record, false);
  if (s.expect_continue || chunked || *length > s.limits.drain_limit) {
    // A client that waited for 100 Continue may send its body or not; a chunked body or one
    // past the drain limit is too much to read for nothing. Either way the answer goes out at
    // once and the connection closes, so a body is never taken for the next request.
    return send(std::move(early), s.record, true);
  }
  // The answer goes out at once; the body, which the client may still be sending, is read and
  // dropped after it, so that the connection can serve the next request.
  s.drain_after_write = true;
  send(std::move(early), s.record, false);
}

void HttpConnection::drain_body() {
  State& s = *state_;
  s.drain_after_write = false;
  s.parser->body_limit(s.limits.drain_limit);
  s.stream.expires_after(s.limits.header_timeout);
  http::async_read(s.stream, s.buffer, *s.parser,
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     State& st = *self->state_;
                     st.parser->release();  // The body is dropped.
                     if (ec || st.closed) return self->shut_down();
                     self->read_header();
                   });
}

void HttpConnection::dispatch() {
  State& s = *state_;
  s.cancellation = std::make_shared<Cancellation>();
  s.record.bytes_in = s.parser->get().body().size();
  s.stream.expires_never();  // The request's own deadline (the handler's) bounds it from here.
  auto self = shared_from_this();
  auto respond = [self, executor = s.stream.get_executor()](HttpResponse response,
                                                            RequestRecord record) {
    // After the listener stopped, nothing would run the answer (and a queued one would keep the
    // connection, and so its own I/O context, alive): it is dropped.
    const std::shared_ptr<ConnectionHub>& hub = self->state_->hub;
    std::lock_guard<std::mutex> lock(hub->mutex);
    if (hub->stopped) return;
    net::post(executor,
              [self, response = std::move(response), record = std::move(record)]() mutable {
                self->send(std::move(response), std::move(record), false);
              });
  };
  watch_socket();
  s.handler.handle(s.parser->release(), s.record, s.cancellation, std::move(respond));
}

void HttpConnection::watch_socket() {
  State& s = *state_;
  if (s.watching || s.closed || s.buffer.size() >= kWatchBytes) return;
  s.watching = true;
  s.stream.socket().async_read_some(
      s.buffer.prepare(kWatchBytes - s.buffer.size()),
      [self = shared_from_this()](beast::error_code ec, size_t n) {
        State& st = *self->state_;
        st.watching = false;
        if (st.closed) return;
        if (!ec) {
          st.buffer.commit(n);  // Pipelined bytes: the next request's, kept for later.
          if (st.busy && st.cancellation != nullptr) return self->watch_socket();
        } else if (ec != net::error::operation_aborted) {
          st.peer_gone = true;  // The client hung up: its request is not worth finishing.
          if (st.cancellation != nullptr) st.cancellation->cancel();
          if (!st.busy) return self->shut_down();
          return;
        }
        if (st.resume_after_watch) {
          st.resume_after_watch = false;
          self->read_header();
        }
      });
}

void HttpConnection::send(HttpResponse response, RequestRecord record, bool close_after) {
  State& s = *state_;
  record.status = response.result_int();
  record.seconds = std::chrono::duration<double>(Clock::now() - s.started).count();
  if (s.closed) {
    // The client is gone (or the server stopping): the answer is recorded, not sent.
    s.record = std::move(record);
    return finish_record();
  }
  // A handler closes the connection after its answer by setting Connection: close.
  const bool keep_alive = !close_after && !s.peer_gone && s.keep_alive && response.keep_alive();
  response.keep_alive(keep_alive);
  response.set("x-request-id", record.request_id);
  response.prepare_payload();
  if (s.head) {
    // The answer to a HEAD is the GET's header (its Content-Length included) and no body, for
    // early refusals as for routes: a body would be read as the start of the next response.
    response.body().clear();
  }
  record.bytes_out = response.body().size();
  s.record = std::move(record);
  s.writing = std::make_shared<HttpResponse>(std::move(response));
  s.stream.expires_after(
      s.limits.header_timeout +
      std::chrono::milliseconds(1000 * s.record.bytes_out / s.limits.min_body_rate));
  http::async_write(s.stream, *s.writing,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                      self->on_written(ec, !keep_alive);
                    });
}

void HttpConnection::on_written(beast::error_code ec, bool close_after) {
  State& s = *state_;
  s.writing.reset();
  s.cancellation.reset();
  finish_record();
  if (close_after && !ec && !s.closed && !s.watching) return linger();
  if (ec || close_after || s.closed) return shut_down();
  if (s.drain_after_write) return drain_body();
  s.busy = false;
  if (s.watching) {
    // The watch read is still pending: cancel it, and go on from its handler.
    s.resume_after_watch = true;
    beast::error_code ignored;
    s.stream.socket().cancel(ignored);
    return;
  }
  read_header();
}

// A closing answer goes out, then the connection stops sending and reads (and drops) what the
// client is still sending, for a short while, before closing: closing with unread data would
// reset the connection, and the client could lose the answer (the classic lingering close).
void HttpConnection::linger() {
  State& s = *state_;
  if (s.lingered == 0) {
    // The first call: one deadline for the whole lingering, however the client trickles.
    beast::error_code ignored;
    s.stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    s.stream.expires_after(kLingerTime);
    s.lingered = 1;
  }
  s.buffer.clear();
  s.stream.async_read_some(
      s.buffer.prepare(std::min<size_t>(kWatchBytes, s.buffer.max_size())),
      [self = shared_from_this()](beast::error_code ec, size_t n) {
        State& st = *self->state_;
        st.lingered += n;
        if (ec || st.closed || st.lingered > st.limits.max_body_bytes + kLingerBytes) {
          return self->shut_down();
        }
        self->linger();
      });
}

void HttpConnection::body_too_large() {
  fail(413, "body_too_large",
       "the body exceeds the limit of " + std::to_string(state_->limits.max_body_bytes) + " bytes");
}

void HttpConnection::fail(int status, const std::string& code, const std::string& message) {
  State& s = *state_;
  if (s.record.request_id.empty()) s.record.request_id = request_id(HttpHeader{});
  if (s.record.route.empty()) s.record.route = "other";
  s.record.error_code = code;
  send(s.handler.error_response(status, code, message), s.record, true);
}

}  // namespace clipembed::server
