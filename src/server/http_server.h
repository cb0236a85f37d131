// Internal: `clipembed serve`, the HTTP embedding service: the listener and its I/O threads
// (http_listener.h), the API (api_handler.h) and the model pool under it.
//
// Threads: io_threads I/O threads serve every connection (Boost.Asio), one loader thread runs
// while models load, and compute runs on the shared runtime through the pool; none of these
// numbers depends on connections, workers or models. No I/O thread ever waits for a model.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "clipembed/error.h"
#include "clipembed/pool.h"
#include "server/api_handler.h"
#include "server/http_listener.h"
#include "server/served_indexes.h"
#include "server/served_models.h"
#include "server/server_options.h"

namespace clipembed::server {

class EmbeddingServer {
 public:
  // Throws Error(kInvalidArgument) for model names that clash or aliases of no model, and
  // opens the --index indexes (throwing kIndexInvalid for one that is unreadable or whose model
  // is not served).
  explicit EmbeddingServer(ServerOptions options);
  ~EmbeddingServer();  // Drains and stops if still running.
  EmbeddingServer(const EmbeddingServer&) = delete;
  EmbeddingServer& operator=(const EmbeddingServer&) = delete;

  // Checks that every model can exist (found, config readable and valid) without loading
  // weights; throws Error(kModelInvalid) naming the model. Quick: `serve` calls it first, so a
  // wrong --model exits at once.
  void check_models() const;

  // Binds, starts the I/O threads and begins loading the models in the background; returns the
  // bound port. Throws Error(kIo) when the address cannot be bound.
  int start();

  // A model that failed to load for a reason retrying cannot fix (its weights are missing or
  // invalid), once the loader gives up; the server cannot become ready.
  std::optional<Error> fatal_error() const;

  // Refuses new API requests (503) and new connections, lets requests in flight finish until the
  // grace period ends, then cancels what is left (downloads included), closes every connection
  // and stops: it returns within the grace period plus the forward pass running at its end.
  // Idempotent.
  void drain_and_stop();

  bool ready() const { return handler_->ready(); }
  bool live() const { return handler_->live(); }

 private:
  void load_models();

  ServerOptions options_;
  ServedModels models_;
  ServedIndexes indexes_;
  std::unique_ptr<ModelPool> pool_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<HttpListener> listener_;  // After handler_: its connections call the handler.
  std::thread loader_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mutex_;
  std::condition_variable stopping_;
  bool stopped_ = false;        // Guarded by mutex_.
  std::optional<Error> fatal_;  // Guarded by mutex_.
};

}  // namespace clipembed::server
