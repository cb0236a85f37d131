// Internal: `clipembed serve`, an HTTP embedding service over the model pool.
//   POST /v1/embeddings  OpenAI-style (see embeddings_api.h)
//   POST /embed          the raw image as the body; ?model=KEY&encoding_format=base64 optional
//   GET  /v1/models      the models served
//   GET  /health         200 once the default model is loaded, 503 while loading or draining
//   GET  /metrics        Prometheus text (metrics.h)
// Threads: a fixed number of I/O threads (cpp-httplib's pool) plus one listener, whatever the
// number of workers; compute runs on the shared runtime through the pool.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clipembed/pool.h"
#include "server/metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace clipembed::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0 picks a free port (see EmbeddingServer::start).
  std::vector<std::string> models;  // Pool keys; the first is the default.
  std::string api_key;              // When set, API routes need "Authorization: Bearer KEY".
  int io_threads = 64;              // Connections served at once (each holds a thread).
  size_t max_body_bytes = 64u << 20;
  size_t max_items = 64;    // Inputs per request.
  int max_in_flight = 256;  // Requests being answered at once; more get 503.
  std::chrono::milliseconds request_deadline{30000};
  bool allow_url_inputs = true;
  bool allow_private_urls = false;  // URL inputs may reach private/loopback/link-local hosts.
  std::chrono::milliseconds grace{30000};  // How long draining waits for in-flight requests.
  PoolOptions pool;                        // Workers, batching, queue, image pixel and URL limits.
};

class EmbeddingServer {
 public:
  explicit EmbeddingServer(ServerOptions options);
  ~EmbeddingServer();  // Drains and stops if still running.
  EmbeddingServer(const EmbeddingServer&) = delete;
  EmbeddingServer& operator=(const EmbeddingServer&) = delete;

  // Binds, starts the I/O threads and begins loading the models in the background; returns the
  // bound port. Throws Error(kIo) when the address cannot be bound.
  int start();

  // Answers 503 to new requests and /health, waits for in-flight requests (at most the grace
  // period), then stops listening and shuts the pool down. Idempotent.
  void drain_and_stop();

  bool ready() const;

 private:
  // Handlers get the request, its body (read by route()) and the response to fill.
  using Handler =
      std::function<void(const httplib::Request&, const std::string&, httplib::Response&)>;
  void add_routes();
  void route(const std::string& method, const std::string& path, bool api, const Handler& handler);
  void handle_embeddings(const std::string& body, httplib::Response& res);
  void handle_raw(const httplib::Request& req, const std::string& body, httplib::Response& res);
  void handle_models(httplib::Response& res);
  void handle_health(httplib::Response& res);
  void handle_metrics(httplib::Response& res);
  // The pool key a request names ("" for the default); throws ApiError 404 or 503 (loading).
  std::string serving_key(const std::string& requested) const;
  void load_models();

  ServerOptions options_;
  std::unique_ptr<ModelPool> pool_;
  std::unique_ptr<httplib::Server> http_;
  Metrics metrics_;
  std::thread listener_, loader_;
  int listen_fd_ = -1;  // The listening socket, as httplib created it.
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;     // in_flight_ fell, a model loaded, or stopping.
  std::map<std::string, bool> loaded_;  // Guarded by mutex_.
};

}  // namespace clipembed::server
