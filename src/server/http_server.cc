#include "server/http_server.h"

#include "clipembed/hub.h"
#include "server/access_log.h"

namespace clipembed::server {
namespace {

// Load failures worth retrying: memory may free up, and a busy pool may take the model later.
bool transient(const Error& e) {
  return e.code() == ErrorCode::kMemoryExhausted || e.code() == ErrorCode::kUnavailable ||
         e.code() == ErrorCode::kOverloaded;
}

}  // namespace

EmbeddingServer::EmbeddingServer(ServerOptions options)
    : options_(std::move(options)),
      models_(options_.models, options_.aliases),
      indexes_(options_.indexes, models_, options_.pool.precision) {
  PoolOptions& pool = options_.pool;
  // A server keeps its models resident: /ready promises they are loaded.
  pool.idle_model_timeout = std::chrono::hours(24 * 365);
  pool.model_directories = models_.directories();
  pool_ = std::make_unique<ModelPool>(pool);
  handler_ = std::make_unique<ApiHandler>(options_, models_, indexes_, *pool_);
  listener_ = std::make_unique<HttpListener>(options_.host, options_.port, options_.io_threads,
                                             options_.max_connections, options_.http, *handler_);
  handler_->set_connection_count([this] { return listener_->connections(); });
}

EmbeddingServer::~EmbeddingServer() { drain_and_stop(); }

void EmbeddingServer::check_models() const {
  for (const ServedModel& m : models_.models()) {
    try {
      ModelConfig::read(locate_model(m.reference));
    } catch (const Error& e) {
      throw Error(ErrorCode::kModelInvalid,
                  "model '" + m.name + "' (" + m.reference + "): " + e.what());
    }
  }
}

int EmbeddingServer::start() {
  const int port = listener_->start();
  loader_ = std::thread([this] { load_models(); });
  return port;
}

// Loads every model in order on its own thread, which ends once all are loaded. A transient
// failure is retried every second; any other ends the loading (fatal_error()).
void EmbeddingServer::load_models() {
  for (const ServedModel& m : models_.models()) {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopped_) return;
      }
      try {
        pool_->load(m.name);
        break;
      } catch (const Error& e) {
        write_event_log(transient(e) ? "warning" : "error",
                        "loading " + m.name + " failed (" + std::string(code_name(e.code())) +
                            ": " + e.what() + ")" + (transient(e) ? "; retrying in 1 s" : ""),
                        options_.log_format);
        std::unique_lock<std::mutex> lock(mutex_);
        if (!transient(e)) {
          fatal_ = e;
          return;
        }
        stopping_.wait_for(lock, std::chrono::seconds(1), [this] { return stopped_; });
      }
    }
  }
}

std::optional<Error> EmbeddingServer::fatal_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fatal_;
}

void EmbeddingServer::drain_and_stop() {
  if (draining_.exchange(true)) return;
  const auto deadline = std::chrono::steady_clock::now() + options_.grace;
  // New requests get 503 (with Connection: close) while the listener still accepts, so that a
  // load balancer that has not yet noticed /ready failing gets an answer, not a refusal.
  handler_->start_draining();
  handler_->wait_idle(deadline);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
  }
  stopping_.notify_all();
  // What is still queued or downloading ends now with kCancelled (503); running batches finish.
  pool_->shutdown();
  listener_->stop();
  if (loader_.joinable()) loader_.join();
}

}  // namespace clipembed::server
