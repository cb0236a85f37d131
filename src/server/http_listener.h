// Internal: the listening socket and the I/O threads of `clipembed serve`. A small fixed number of
// threads serves any number of connections (an idle one costs a socket and a few kilobytes, not
// a thread). Past max_connections a new connection is answered 503 and closed at once.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/http_connection.h"

namespace clipembed::server {

class HttpListener {
 public:
  HttpListener(const std::string& host, int port, int io_threads, size_t max_connections,
               const HttpLimits& limits, HttpHandler& handler);
  ~HttpListener();  // Calls stop().
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds and listens (throws Error(kIo) when it cannot), starts accepting on the I/O threads;
  // returns the bound port.
  int start();
  // Stops accepting, closes every connection now (answers in flight are cancelled) and joins the
  // I/O threads. (Draining happens above, in the API: see EmbeddingServer::drain_and_stop.)
  void stop();

  size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clipembed::server
