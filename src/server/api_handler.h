// Internal: the HTTP API of `clipembed serve`, behind the connections (http_connection.h).
//   POST /v1/embeddings, /embeddings   images and texts, OpenAI's shape (embeddings_api.h)
//   POST /v1/classify, /classify       zero-shot labels for images
//   POST /v1/search                    ranked paths of an index (--index) for a text or image
//   POST /embed                        one raw image as the body;
//   ?model=&encoding_format=&normalize= GET  /v1/models, /models           the served names, with
//   their dimension GET  /ready, /health               200 once the default model is loaded and not
//   draining GET  /live                         200 while the compute path makes progress
//   (--stall-seconds) GET  /metrics                      Prometheus text (metrics.h)
// Handlers never wait: inputs go to the pool with a callback, and the answer is sent from the
// callback of the last input (or of the first failure, which cancels the rest).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "clipembed/pool.h"
#include "server/api_error.h"
#include "server/http_connection.h"
#include "server/metrics.h"
#include "server/served_indexes.h"
#include "server/served_models.h"
#include "server/server_options.h"

namespace clipembed::server {

class ApiHandler : public HttpHandler {
 public:
  ApiHandler(const ServerOptions& options, const ServedModels& models, const ServedIndexes& indexes,
             ModelPool& pool);

  std::optional<HttpResponse> check(const HttpHeader& header, RequestRecord& record) override;
  void handle(HttpRequest request, RequestRecord record, std::shared_ptr<Cancellation> cancellation,
              Respond respond) override;
  void finished(const RequestRecord& record) override;
  HttpResponse error_response(int status, const std::string& code,
                              const std::string& message) override;

  // The loader says a model is in memory.
  void set_loaded(const std::string& name);
  // From now on API requests get 503 and /ready fails.
  void start_draining() { draining_ = true; }
  // Waits until no request is being answered, or `deadline`; true when none is.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  // Where /metrics reads the number of open connections.
  void set_connection_count(std::function<size_t()> count) { connections_ = std::move(count); }

  bool ready() const;
  bool live() const;

 private:
  // One request's context for the handlers below.
  struct Call {
    HttpRequest request;
    RequestRecord record;
    std::shared_ptr<Cancellation> cancellation;
    Respond respond;
  };
  void embeddings(const std::shared_ptr<Call>& call);
  void raw_image(const std::shared_ptr<Call>& call);
  void classify(const std::shared_ptr<Call>& call);
  void search(const std::shared_ptr<Call>& call);
  void models(const std::shared_ptr<Call>& call);
  void ops(const std::shared_ptr<Call>& call);

  // Queues a request's inputs on a model as one group (the pool admits it whole or lets it wait
  // its turn); a group larger than the whole queue is refused at once (ApiError 413).
  void submit(const std::string& model, std::vector<EmbedInput> inputs, const EmbedOptions& options,
              InputCallback done, const std::shared_ptr<Call>& call);
  // The model a request names, loaded ("" is the default); throws ApiError 404 or 503.
  ServedModel serving(const std::string& requested) const;
  void reply(const std::shared_ptr<Call>& call, HttpResponse response);
  void reply_error(const std::shared_ptr<Call>& call, const ApiError& error);
  bool authorized(const HttpHeader& header) const;

  const ServerOptions& options_;
  const ServedModels& models_;
  const ServedIndexes& indexes_;
  ModelPool& pool_;
  Metrics metrics_;
  std::array<unsigned char, 32> key_digest_{};  // SHA-256 of the API key, when one is set.
  std::function<size_t()> connections_;
  std::atomic<bool> draining_{false};
  // Admitted requests of every route (a drain waits for them all), and of the API routes alone:
  // those are capped and reported, so a scrape of /metrics does not count itself.
  std::atomic<int> in_flight_{0};
  std::atomic<int> api_in_flight_{0};
  mutable std::mutex mutex_;
  std::condition_variable idle_;        // in_flight_ reached 0.
  std::map<std::string, bool> loaded_;  // By name; guarded by mutex_.
};

}  // namespace clipembed::server
