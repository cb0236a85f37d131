#include "server/http_listener.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <map>

#include "clipembed/error.h"

namespace clipembed::server {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// How long stop() lets closed connections finish their last handlers. Connections held past it
// by requests still in the pool are let go when those end.
constexpr auto kCloseWait = std::chrono::seconds(1);

}  // namespace

struct HttpListener::Impl {
  Impl(const std::string& h, int p, int threads, size_t max, const HttpLimits& l, HttpHandler& hd)
      : host(h),
        port(p),
        io_threads(std::max(1, threads)),
        max_connections(max),
        handler(hd),
        hub(std::make_shared<ConnectionHub>(l, hd)),
        acceptor(net::make_strand(hub->context)) {}

  void accept();
  void refuse(tcp::socket socket);

  const std::string host;
  const int port;
  const int io_threads;
  const size_t max_connections;
  HttpHandler& handler;
  const std::shared_ptr<ConnectionHub> hub;  // Owns the I/O context.
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::map<HttpConnection*, std::weak_ptr<HttpConnection>> live;  // Guarded by mutex.
  bool accepting = false;
};

void HttpListener::Impl::refuse(tcp::socket socket) {
  // Past max_connections: one canned answer, then the socket closes.
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  auto response = std::make_shared<HttpResponse>(handler.error_response(
      503, "too_many_connections", "the server is holding its maximum of connections; retry"));
  response->set("Retry-After", "1");
  response->keep_alive(false);
  response->prepare_payload();
  http::async_write(*s, *response, [s, response](boost::beast::error_code, size_t) {
    boost::beast::error_code ignored;
    s->shutdown(tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
}

void HttpListener::Impl::accept() {
  acceptor.async_accept(
      net::make_strand(hub->context), [this](boost::beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        if (!ec) {
          if (hub->open.load() >= max_connections) {
            refuse(std::move(socket));
          } else {
            auto connection = std::make_shared<HttpConnection>(std::move(socket), hub);
            {
              std::lock_guard<std::mutex> lock(mutex);
              // Forget connections that have gone (the map only serves stop()).
              for (auto it = live.begin(); it != live.end();) {
                it = it->second.expired() ? live.erase(it) : std::next(it);
              }
              live[connection.get()] = connection;
            }
            connection->start();
          }
        }
        accept();
      });
}

HttpListener::HttpListener(const std::string& host, int port, int io_threads,
                           size_t max_connections, const HttpLimits& limits, HttpHandler& handler)
    : impl_(std::make_unique<Impl>(host, port, io_threads, max_connections, limits, handler)) {}

HttpListener::~HttpListener() {
  try {
    stop();
  } catch (...) {
    // Joining a thread can only throw for a programming error; a destructor must not.
  }
}

int HttpListener::start() {
  Impl& i = *impl_;
  boost::beast::error_code ec;
  const auto address = net::ip::make_address(i.host, ec);
  if (ec)
    throw Error(ErrorCode::kInvalidArgument, "cannot listen on '" + i.host + "': " + ec.message());
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(i.port));
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error(ErrorCode::kIo,
                "cannot listen on " + i.host + ":" + std::to_string(i.port) + ": " + ec.message());
  }
  i.accepting = true;
  i.accept();
  for (int t = 0; t < i.io_threads; ++t) {
    i.threads.emplace_back([&i] {
      // A handler that throws (memory short while reading a connection's bytes) costs that
      // connection, which its destructor closes, never the I/O thread or the process.
      while (true) {
        try {
          i.hub->context.run();
          return;
        } catch (const std::exception&) {
        }
      }
    });
  }
  return i.acceptor.local_endpoint().port();
}

void HttpListener::stop() {
  Impl& i = *impl_;
  if (i.threads.empty()) return;
  net::post(i.acceptor.get_executor(), [&i] {
    boost::beast::error_code ignored;
    i.acceptor.close(ignored);
  });
  {
    std::lock_guard<std::mutex> lock(i.mutex);
    for (auto& [raw, weak] : i.live) {
      if (auto c = weak.lock()) c->close();
    }
  }
  // The connections' last handlers run (their sockets closed), for a short while; then the
  // threads end.
  const auto deadline = std::chrono::steady_clock::now() + kCloseWait;
  while (i.hub->open.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  i.hub->context.stop();
  for (std::thread& t : i.threads) t.join();
  i.threads.clear();
  {
    // From here no connection calls the handler, and no answer is queued any more.
    std::lock_guard<std::mutex> lock(i.hub->mutex);
    i.hub->stopped = true;
  }
  // Handlers still queued run once more, on this thread (each sees the listener stopped, closes
  // its socket and lets its connection go), so that none stays queued holding its connection.
  i.hub->context.restart();
  i.hub->context.poll();
}

size_t HttpListener::connections() const { return impl_->hub->open.load(); }

}  // namespace clipembed::server
