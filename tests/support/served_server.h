// A real EmbeddingServer on a free port of 127.0.0.1 for the length of a test, the one fixture
// every server test starts (header-only: the support library does not link the server).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "server/http_server.h"
#include "support/fixtures.h"
#include "support/raw_http.h"

namespace clipembed::testing {

// Options for serving the fixture model `model` (a directory under tests/fixtures/models, or an
// absolute path): a free port, no access log.
inline server::ServerOptions served_options(const std::string& model = "tiny") {
  server::ServerOptions o;
  o.port = 0;
  o.models = {model.front() == '/' ? model : fixture_path("models/" + model)};
  o.log_format = server::LogFormat::kOff;
  return o;
}

class ServedServer {
 public:
  // Waits for the default model (up to 30 s: much longer under a sanitizer on a busy machine)
  // unless the test wants the server while it loads.
  explicit ServedServer(server::ServerOptions options, bool wait_ready = true)
      : server_(std::make_unique<server::EmbeddingServer>(std::move(options))) {
    port_ = server_->start();
    for (int i = 0; wait_ready && i < 3000 && !server_->ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  int port() const { return port_; }
  server::EmbeddingServer& server() { return *server_; }

  // One request on a new connection.
  std::optional<RawResponse> ask(const std::string& request) const {
    RawConnection c(port_);
    c.send(request);
    return c.read_response();
  }
  // A metric's value from /metrics (-1 when absent).
  double metric(const std::string& series) const {
    const auto r = ask(http_request("GET", "/metrics"));
    if (!r) return -1;
    const size_t at = r->body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(r->body.substr(at + series.size() + 2));
  }

 private:
  std::unique_ptr<server::EmbeddingServer> server_;
  int port_ = 0;
};

}  // namespace clipembed::testing
