#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "server/api_error.h"
#include "server/embeddings_api.h"

namespace clipembed::server {
namespace {

using Clock = std::chrono::steady_clock;

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.retry_after_seconds > 0) {
    res.set_header("Retry-After", std::to_string(e.retry_after_seconds));
  }
  res.set_content(error_body(e), "application/json");
}

// Compares without an early exit, so the time taken does not reveal how much of a key matched.
bool same_key(const std::string& given, const std::string& key) {
  if (given.size() != key.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ key[i]);
  return diff == 0;
}

// Waits for each input's vector in order until the request's deadline; the first failure (in
// input order) answers for the whole request, naming its index.
std::vector<std::vector<float>> gather(std::vector<std::future<Embedding>>& futures,
                                       Clock::time_point deadline, bool single) {
  std::vector<std::vector<float>> vectors;
  for (size_t i = 0; i < futures.size(); ++i) {
    const std::string where = single ? "input" : "input[" + std::to_string(i) + "]";
    if (futures[i].wait_until(deadline) != std::future_status::ready) {
      throw api_error_for(Error(ErrorCode::kDeadlineExceeded,
                                "not embedded within the request "
                                "deadline"),
                          where);
    }
    try {
      vectors.push_back(futures[i].get());
    } catch (const Error& e) {
      throw api_error_for(e, where);
    }
  }
  return vectors;
}

}  // namespace

EmbeddingServer::EmbeddingServer(ServerOptions options) : options_(std::move(options)) {
  if (options_.models.empty()) throw Error(ErrorCode::kInvalidArgument, "no model to serve");
  options_.pool.request_deadline = options_.request_deadline;
  options_.pool.input.url.allow_private_addresses = options_.allow_private_urls;
  // A server keeps its models resident: /health promises they are loaded.
  options_.pool.idle_model_timeout = std::chrono::hours(24 * 365);
  pool_ = std::make_unique<ModelPool>(options_.pool);
  for (const std::string& key : options_.models) loaded_[key] = false;
  http_ = std::make_unique<httplib::Server>();
  const int io_threads = std::max(1, options_.io_threads);
  http_->new_task_queue = [io_threads] { return new httplib::ThreadPool(io_threads); };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_socket_options([this](int fd) {
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    listen_fd_ = fd;
  });
  http_->set_keep_alive_timeout(5);
  http_->set_keep_alive_max_count(1000);
  http_->set_read_timeout(30);
  http_->set_write_timeout(30);
  add_routes();
}

EmbeddingServer::~EmbeddingServer() { drain_and_stop(); }

int EmbeddingServer::start() {
  const int port = options_.port == 0
                       ? http_->bind_to_any_port(options_.host)
                       : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port < 0) {
    throw Error(ErrorCode::kIo,
                "cannot listen on " + options_.host + ":" + std::to_string(options_.port));
  }
  // cpp-httplib listens with a backlog of 5, too short for a burst of new connections (the
  // kernel drops the rest of the handshakes and clients see resets). Listening again on the
  // bound socket raises it.
  if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
  listener_ = std::thread([this] { http_->listen_after_bind(); });
  loader_ = std::thread([this] { load_models(); });
  return port;
}

// Loads every model, retrying a failed one every second (a model directory may appear or be
// fixed after start-up) until it loads or the server stops. Runs on its own thread, which ends
// once all are loaded.
void EmbeddingServer::load_models() {
  for (const std::string& key : options_.models) {
    while (!stopped_) {
      try {
        pool_->load(key);
        std::lock_guard<std::mutex> lock(mutex_);
        loaded_[key] = true;
        changed_.notify_all();
        break;
      } catch (const Error& e) {
        std::fprintf(stderr, "clipembed serve: loading %s failed (%s: %s); retrying in 1 s\n",
                     key.c_str(), std::string(code_name(e.code())).c_str(), e.what());
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(1), [this] { return stopped_.load(); });
      }
    }
  }
}

// Ready once the default model is loaded; requests for another model still loading get 503.
bool EmbeddingServer::ready() const {
  if (draining_) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_.at(options_.models.front());
}

void EmbeddingServer::drain_and_stop() {
  if (draining_.exchange(true)) return;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, options_.grace, [this] { return in_flight_.load() == 0; });
  }
  stopped_ = true;
  changed_.notify_all();
  // Requests still running after the grace period end with kCancelled (503) from the pool.
  pool_->shutdown();
  http_->stop();
  if (listener_.joinable()) listener_.join();
  if (loader_.joinable()) loader_.join();
}

void EmbeddingServer::route(const std::string& method, const std::string& path, bool api,
                            const Handler& handler) {
  // The body is read here rather than by httplib, which would parse a body sent as
  // application/x-www-form-urlencoded (curl's default for --data-binary) as a form and refuse one
  // over 8 KiB.
  auto wrapped = [this, path, api, handler](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader* reader) {
    const auto start = Clock::now();
    const int now_in_flight = ++in_flight_;
    std::string code;
    try {
      if (api && !options_.api_key.empty()) {
        const std::string auth = req.get_header_value("Authorization");
        if (auth.rfind("Bearer ", 0) != 0 || !same_key(auth.substr(7), options_.api_key)) {
          throw ApiError{401, "authentication_error", "invalid_api_key",
                         "a valid API key is required: Authorization: Bearer KEY", 0};
        }
      }
      if (api && draining_) {
        throw ApiError{503, "service_unavailable", "draining", "the server is shutting down", 5};
      }
      if (api && now_in_flight > options_.max_in_flight) {
        throw ApiError{503, "service_unavailable", "too_many_requests",
                       "the server is answering its maximum of " +
                           std::to_string(options_.max_in_flight) + " requests",
                       1};
      }
      std::string body;
      if (reader != nullptr) {
        bool too_large = false;
        const bool complete = (*reader)([&](const char* data, size_t size) {
          if (body.size() + size > options_.max_body_bytes) {
            too_large = true;
            return false;
          }
          body.append(data, size);
          return true;
        });
        if (too_large || res.status == 413) {
          throw ApiError{
              413, "invalid_request_error", "body_too_large",
              "the body exceeds the limit of " + std::to_string(options_.max_body_bytes) + " bytes",
              0};
        }
        if (!complete) throw bad_request("the body could not be read", "incomplete_body");
      }
      res.status = 200;
      handler(req, body, res);
    } catch (const ApiError& e) {
      code = e.code;
      send_error(res, e);
    } catch (const std::exception& e) {
      code = "internal";
      send_error(res, ApiError{500, "server_error", "internal", e.what(), 0});
    }
    metrics_.record(path, res.status, std::chrono::duration<double>(Clock::now() - start).count(),
                    code);
    if (--in_flight_ == 0 && draining_) {
      std::lock_guard<std::mutex> lock(mutex_);
      changed_.notify_all();
    }
  };
  if (method == "GET") {
    http_->Get(path, [wrapped](const httplib::Request& req, httplib::Response& res) {
      wrapped(req, res, nullptr);
    });
  } else {
    http_->Post(path,
                [wrapped](const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) { wrapped(req, res, &reader); });
  }
}

void EmbeddingServer::add_routes() {
  using Req = const httplib::Request&;
  using Body = const std::string&;
  using Res = httplib::Response&;
  route("POST", "/v1/embeddings", true,
        [this](Req, Body body, Res res) { handle_embeddings(body, res); });
  route("POST", "/embed", true,
        [this](Req req, Body body, Res res) { handle_raw(req, body, res); });
  route("GET", "/v1/models", true, [this](Req, Body, Res res) { handle_models(res); });
  route("GET", "/health", false, [this](Req, Body, Res res) { handle_health(res); });
  route("GET", "/metrics", false, [this](Req, Body, Res res) { handle_metrics(res); });
  // Answers httplib makes itself (no such route, body over the limit, unparsable request) get
  // the same JSON shape as ours.
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        ApiError e{res.status, "invalid_request_error", "http_" + std::to_string(res.status),
                   "HTTP " + std::to_string(res.status), 0};
        if (res.status == 404)
          e.code = "not_found", e.message = "no route " + req.method + " " + req.path;
        if (res.status == 413) {
          e.code = "body_too_large";
          e.message =
              "the body exceeds the limit of " + std::to_string(options_.max_body_bytes) + " bytes";
        }
        send_error(res, e);
        metrics_.record("other", res.status, 0, e.code);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

std::string EmbeddingServer::serving_key(const std::string& requested) const {
  std::string key = requested.empty() ? options_.models.front() : requested;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = loaded_.find(key);
  if (it == loaded_.end()) {
    throw ApiError{404, "invalid_request_error", "model_not_found",
                   "model '" + key + "' is not served here; GET /v1/models lists those that are",
                   0};
  }
  if (!it->second) {
    throw ApiError{503, "service_unavailable", "model_loading",
                   "model '" + key + "' is still loading", 2};
  }
  return key;
}

void EmbeddingServer::handle_embeddings(const std::string& body, httplib::Response& res) {
  const auto deadline = Clock::now() + options_.request_deadline;
  const EmbeddingsRequest request = parse_embeddings_request(body, options_.max_items);
  const std::string key = serving_key(request.model);
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    if (!options_.allow_url_inputs && is_url(request.inputs[i])) {
      throw bad_request("input[" + std::to_string(i) + "]: URL inputs are disabled on this server",
                        "url_inputs_disabled");
    }
  }
  std::shared_ptr<Embedder> embedder = pool_->embedder(key);
  std::vector<std::future<Embedding>> futures;
  for (const std::string& input : request.inputs) {
    // A request's inputs are URLs, data URIs or base64, never paths on this machine.
    futures.push_back(embedder->embed_image_async(is_url(input) ? ImageInput::url(input)
                                                                : ImageInput::base64(input)));
  }
  const auto vectors = gather(futures, deadline, false);
  res.set_content(embeddings_response(key, vectors, request.base64_output), "application/json");
}

void EmbeddingServer::handle_raw(const httplib::Request& req, const std::string& body,
                                 httplib::Response& res) {
  const auto deadline = Clock::now() + options_.request_deadline;
  const std::string key = serving_key(req.get_param_value("model"));
  const std::string format = req.get_param_value("encoding_format");
  if (!format.empty() && format != "float" && format != "base64") {
    throw bad_request("encoding_format must be float or base64");
  }
  if (body.empty()) throw bad_request("the body is empty; send the image file as the body");
  std::vector<std::future<Embedding>> futures;
  futures.push_back(pool_->embedder(key)->embed_image_async(
      ImageInput::bytes(std::vector<uint8_t>(body.begin(), body.end()))));
  const auto vectors = gather(futures, deadline, true);
  res.set_content(embeddings_response(key, vectors, format == "base64"), "application/json");
}

void EmbeddingServer::handle_models(httplib::Response& res) {
  nlohmann::json data = nlohmann::json::array();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const std::string& key : options_.models) {
    const ModelStats stats = pool_->stats(key);
    data.push_back({{"id", key},
                    {"object", "model"},
                    {"owned_by", "clipembed"},
                    {"ready", loaded_.at(key)},
                    {"workers", stats.workers}});
  }
  res.set_content(nlohmann::json{{"object", "list"}, {"data", data}}.dump(), "application/json");
}

void EmbeddingServer::handle_health(httplib::Response& res) {
  const bool ok = ready();
  res.status = ok ? 200 : 503;
  const char* status = ok ? "ok" : (draining_ ? "draining" : "loading");
  if (!ok) res.set_header("Retry-After", "1");
  res.set_content(nlohmann::json{{"status", status}}.dump(), "application/json");
}

void EmbeddingServer::handle_metrics(httplib::Response& res) {
  std::vector<std::pair<std::string, ModelStats>> models;
  for (const std::string& key : options_.models) models.emplace_back(key, pool_->stats(key));
  res.set_content(metrics_.render(models, in_flight_.load()), "text/plain; version=0.0.4");
}

}  // namespace clipembed::server
