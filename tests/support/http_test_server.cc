#include "support/http_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "io/file.h"
#include "support/fixtures.h"

namespace clipembed::testing {
namespace {

int bound_socket(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

HttpTestServer::HttpTestServer() {
  const auto png = io::read_file(fixture_path("images/gray.png"));
  const std::string image(png.begin(), png.end());
  server_.Get("/image.png", [image](const httplib::Request&, httplib::Response& res) {
    res.set_content(image, "image/png");
  });
  server_.Get("/text", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello, not an image", "image/png");  // Lies about its type.
  });
  server_.Get("/loop",
              [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/loop"); });
  server_.Get("/redirect", [](const httplib::Request& req, httplib::Response& res) {
    res.set_redirect(req.get_param_value("to"));
  });
  server_.Get("/hop", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/image.png");
  });
  server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(2 << 20, 'x'), "image/png");
  });
  server_.Get("/big-chunked", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("image/png", [](size_t offset, httplib::DataSink& sink) {
      if (offset >= (2u << 20)) {
        sink.done();
        return true;
      }
      const std::string block(64 << 10, 'x');
      return sink.write(block.data(), block.size());
    });
  });
  server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    res.set_content("late", "text/plain");
  });
  // /drip?ms=N: a chunked body of one byte per 50 ms for N ms (an image download that takes
  // that long), ending early when the client hangs up; drips() counts those running.
  server_.Get("/drip", [this](const httplib::Request& req, httplib::Response& res) {
    const int ms = req.has_param("ms") ? std::stoi(req.get_param_value("ms")) : 10000;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    ++drips_;
    res.set_chunked_content_provider(
        "image/png",
        [this, end](size_t, httplib::DataSink& sink) {
          if (std::chrono::steady_clock::now() >= end || !sink.is_writable()) {
            sink.done();
            return true;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          return sink.write("x", 1);
        },
        [this](bool) { --drips_; });
  });
  // Enough threads for every slow download a test starts at once.
  server_.new_task_queue = [] { return new httplib::ThreadPool(48); };
  server_.set_keep_alive_max_count(1);  // Closing after each answer lets stop() return at once.
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

HttpTestServer::~HttpTestServer() {
  server_.stop();
  thread_.join();
}

std::string HttpTestServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

StallingPort::StallingPort() {
  fd_ = bound_socket(&port_);
  ::listen(fd_, 16);
}

StallingPort::~StallingPort() { ::close(fd_); }

int closed_port() {
  int port = 0;
  ::close(bound_socket(&port));
  return port;
}

}  // namespace clipembed::testing
