// Test support: a local HTTP server on 127.0.0.1 (cpp-httplib) with the routes the URL tests need.
#pragma once

#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>

namespace clipembed::testing {

class HttpTestServer {
 public:
  // Routes: /image.png (a fixture image), /text (not an image), /missing (404), /loop (redirects
  // to itself), /hop (redirects to /image.png), /redirect?to=URL, /big (2 MiB with Content-Length),
  // /big-chunked (2 MiB, chunked), /slow (answers after 1 s), /drip?ms=N (one byte per 50 ms
  // for N ms, ending when the client hangs up).
  HttpTestServer();
  ~HttpTestServer();
  std::string url(const std::string& path) const;
  // /drip bodies being sent now.
  int drips() const { return drips_.load(); }

 private:
  httplib::Server server_;
  std::atomic<int> drips_{0};
  int port_ = 0;
  std::thread thread_;
};

// A TCP port on 127.0.0.1 that accepts connections into its backlog but never answers.
class StallingPort {
 public:
  StallingPort();
  ~StallingPort();
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on 127.0.0.1 with nothing listening (connections are refused).
int closed_port();

}  // namespace clipembed::testing
