// Internal: the HTTP API of `clipembed serve`, behind the connections (http_connection.h). Its
// routes are one table (api_handler.cc), each row carrying its handler:
//   POST /v1/embeddings, /embeddings   images and texts, OpenAI's shape (embeddings_api.h)
//   POST /v1/classify, /classify       zero-shot labels for images
//   POST /v1/search                    ranked paths of an index (--index) for a text or image
//   POST /embed                        one raw image as the body (?model=&encoding_format=
//                                      &normalize=)
//   GET  /v1/models, /models           the served names, with their family and dimension
//   GET  /v1/models/{id}, /models/{id} one of them (the OpenAI SDK's models.retrieve)
//   GET  /info                         the default model, its limits and the version (TEI's)
//   GET  /ready, /health               200 once the default model is loaded and not draining
//   GET  /live                         200 while the compute path makes progress
//                                      (--stall-seconds)
//   GET  /metrics                      Prometheus text (metrics.h)
//   GET  /, /ui, /ui/{file}            the search page, while an index is served (api_ui.cc)
//   GET  /v1/indexes                   the served indexes
//   GET  /v1/thumbnails/{index}/{row}  a small WebP of an indexed file (thumbnails.h)
// The embedding routes go through the service core (service/): its input rule and zero-shot
// orchestration, over the model's Embedder and its capabilities; no route reaches the model
// itself. Handlers never wait: a request's inputs go to the pool as one group with a callback,
// and the answer is sent from it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "clipembed/pool.h"
#include "server/api_error.h"
#include "server/http_connection.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/served_indexes.h"
#include "server/served_models.h"
#include "server/server_options.h"
#include "server/thumbnails.h"
#include "service/inputs.h"

namespace clipembed::server {

// `raw` with its %XX escapes decoded (and '+' read as a space in a query string).
std::string percent_decoded(std::string_view raw, bool plus_is_space);
// The path of a request target: its origin form (/v1/embeddings?x=1), or the absolute form a
// proxy sends (http://host:8080/v1/embeddings) with the scheme and authority taken off.
std::string_view path_of(std::string_view target);
// The value of one query parameter of a target (percent-decoded), or "".
std::string query_param(std::string_view target, std::string_view name);

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

  // From now on API requests get 503 and /ready fails.
  void start_draining() { draining_ = true; }
  // Waits until no request is being answered, or `deadline`; true when none is.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  // Where /metrics reads the number of open connections.
  void set_connection_count(std::function<size_t()> count) { connections_ = std::move(count); }

  bool ready() const;
  bool live() const;

  // What the route table says of each route (/openapi.json and /docs are made from it).
  static std::vector<RouteDoc> route_docs();

  // One request's context for the handlers below.
  struct Call {
    HttpRequest request;
    RequestRecord record;
    std::shared_ptr<Cancellation> cancellation;
    Respond respond;
  };

 private:
  using Answer = std::function<void(std::vector<Embedding>& vectors, const EmbedTiming& timing)>;
  struct Route;
  static const std::vector<Route>& routes();

  // The routes' handlers (api_embed.cc: the embedding routes).
  void embeddings(const std::shared_ptr<Call>& call);
  void raw_image(const std::shared_ptr<Call>& call);
  void classify(const std::shared_ptr<Call>& call);
  void search(const std::shared_ptr<Call>& call);
  void models(const std::shared_ptr<Call>& call);
  void model(const std::shared_ptr<Call>& call);  // /v1/models/{id}
  void info(const std::shared_ptr<Call>& call);
  void tokenize(const std::shared_ptr<Call>& call);  // POST /tokenize
  void openapi(const std::shared_ptr<Call>& call);   // GET /openapi.json
  void docs(const std::shared_ptr<Call>& call);      // GET /docs
  // The search page (api_ui.cc): GET / and /ui, its files, the indexes and their thumbnails.
  void page(const std::shared_ptr<Call>& call);
  void page_file(const std::shared_ptr<Call>& call);  // GET /ui/{file}
  void indexes(const std::shared_ptr<Call>& call);    // GET /v1/indexes
  void thumbnail(const std::shared_ptr<Call>& call);  // GET /v1/thumbnails/{index}/{row}
  bool page_served() const;
  // The served index `name` ("" when one is served), holding `row` when one is given; throws
  // ApiError 404 naming which of the two is missing.
  const ServedIndex& indexed(const std::string& name, std::optional<size_t> row = {}) const;
  // One served name's entry in /v1/models (with its capabilities once loaded).
  nlohmann::json model_entry(const std::string& name, const std::string& served) const;
  void health(const std::shared_ptr<Call>& call);  // /ready and /health.
  void liveness(const std::shared_ptr<Call>& call);
  void metrics(const std::shared_ptr<Call>& call);

  // A request's model: its served name and Embedder, once it is loaded ("" is the default);
  // throws ApiError 404 (not served) or 503 (still loading).
  struct Served {
    std::string name;
    std::shared_ptr<Embedder> embedder;
  };
  Served serving(const std::string& requested) const;
  bool loaded(const std::string& name) const;
  // The service's input rule for a request of `modality`, under the server's limits.
  service::InputRule input_rule(service::Modality modality) const;
  // Queues a request's inputs on its model as one group (the pool admits it whole or lets it
  // wait its turn; the first failure answers, naming the input by `where`); a group larger than
  // the whole queue is refused at once (ApiError 413). `answer` gets the vectors in order.
  void submit(const std::shared_ptr<Call>& call, const std::shared_ptr<Embedder>& embedder,
              std::vector<EmbedInput> inputs, const EmbedOptions& options, Answer answer,
              std::function<std::string(size_t)> where);
  void reply(const std::shared_ptr<Call>& call, HttpResponse response);
  void reply_error(const std::shared_ptr<Call>& call, const ApiError& error);
  bool authorized(const HttpHeader& header) const;

  const ServerOptions& options_;
  const ServedModels& models_;
  const ServedIndexes& indexes_;
  ModelPool& pool_;
  Metrics metrics_;
  std::array<unsigned char, 32> key_digest_{};  // SHA-256 of the API key, when one is set.
  ThumbnailCache thumbnails_{16u << 20};
  std::function<size_t()> connections_;
  std::atomic<bool> draining_{false};
  // Admitted requests of every route (a drain waits for them all), and of the API routes alone:
  // those are capped and reported, so a scrape of /metrics does not count itself.
  std::atomic<int> in_flight_{0};
  std::atomic<int> api_in_flight_{0};
  mutable std::mutex mutex_;
  std::condition_variable idle_;  // in_flight_ reached 0.
};

}  // namespace clipembed::server
