// Test support: a local HTTP server on 127.0.0.1 (cpp-httplib) with the routes the URL tests need.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

namespace clipembed::testing {

class HttpTestServer {
 public:
  // Routes: /image.png (a fixture image), /text (not an image), /missing (404), /loop (redirects
  // to itself), /hop (redirects to /image.png), /redirect?to=URL, /big (2 MiB with Content-Length),
  // /big-chunked (2 MiB, chunked), /slow (answers after 3 s).
  HttpTestServer();
  ~HttpTestServer();
  std::string url(const std::string& path) const;

 private:
  httplib::Server server_;
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
