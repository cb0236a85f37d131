// ApiHandler: the route table, the checks made on a request's header (route, method, key,
// draining, in-flight cap, encodings), dispatch, and the routes that are not embeddings (models,
// health, liveness, metrics). The embedding routes are in api_embed.cc.
#include "server/api_handler.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include "clipembed/version.h"
#include "server/api_route.h"

namespace clipembed::server {
namespace {

using Clock = std::chrono::steady_clock;

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse response(static_cast<http::status>(status), 11);
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  return response;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         boost::beast::iequals(text.substr(0, prefix.size()), prefix);
}

}  // namespace

// The path of a request target: its origin form (/v1/embeddings?x=1), or the absolute form a
// proxy sends (http://host:8080/v1/embeddings, RFC 9112 section 3.2.2) with the scheme and
// authority taken off.
std::string_view path_of(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() &&
        boost::beast::iequals(target.substr(0, scheme.size()), scheme)) {
      const size_t slash = target.find_first_of("/?", scheme.size());
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
      if (target.front() == '?') return "/";
      break;
    }
  }
  return target.substr(0, target.find('?'));
}

std::string query_param(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return percent_decoded(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
  }
  return "";
}

std::string percent_decoded(std::string_view raw, bool plus_is_space) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string value;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
      value += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
      i += 2;
    } else {
      value += plus_is_space && raw[i] == '+' ? ' ' : raw[i];
    }
  }
  return value;
}

ApiHandler::ApiHandler(const ServerOptions& options, const ServedModels& models,
                       const ServedIndexes& indexes, ModelPool& pool)
    : options_(options), models_(models), indexes_(indexes), pool_(pool) {
  if (!options_.api_key.empty()) key_digest_ = sha256(options_.api_key);
}

// The key is compared as SHA-256 digests in constant time: neither how much of it matched nor
// its length shows in the time taken.
bool ApiHandler::authorized(const HttpHeader& header) const {
  if (options_.api_key.empty()) return true;
  std::string_view auth = header[http::field::authorization];
  if (!starts_with_ci(auth, "bearer ")) return false;
  // RFC 6750: the scheme and the token are separated by one or more spaces.
  auth.remove_prefix(6);
  while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
  const auto given = sha256(auth);
  return CRYPTO_memcmp(given.data(), key_digest_.data(), given.size()) == 0;
}

std::optional<HttpResponse> ApiHandler::check(const HttpHeader& header, RequestRecord& record) {
  const std::string_view path = path_of(header.target());
  const Route* route = nullptr;
  bool path_known = false;
  for (const Route& r : routes()) {
    if (!r.matches(path)) continue;
    path_known = true;
    if (r.method == header.method() ||
        (r.method == http::verb::get && header.method() == http::verb::head)) {
      route = &r;
    }
  }
  record.route = route != nullptr ? std::string(route->path) : "other";
  auto refuse = [&](int status, const std::string& code, const std::string& message) {
    record.error_code = code;
    return std::optional<HttpResponse>(error_response(status, code, message));
  };
  if (!path_known) {
    return refuse(404, "not_found",
                  "no route " + std::string(path) +
                      "; see /v1/embeddings, /v1/classify, /v1/search, /v1/models");
  }
  if (route == nullptr) {
    auto response =
        refuse(405, "method_not_allowed",
               std::string(path) + " does not take " + std::string(header.method_string()));
    for (const Route& r : routes()) {
      if (r.matches(path)) response->set(http::field::allow, http::to_string(r.method));
    }
    return response;
  }
  if (route->api && !authorized(header)) {
    auto response =
        refuse(401, "invalid_api_key", "a valid API key is required: Authorization: Bearer KEY");
    response->set(http::field::www_authenticate, "Bearer");
    return response;
  }
  if (route->api && draining_) {
    auto response = refuse(503, "draining", "the server is shutting down");
    response->set(http::field::retry_after, "5");
    response->keep_alive(false);  // The client should reconnect, to another instance.
    return response;
  }
  if (route->method == http::verb::post) {
    const std::string_view encoding = header[http::field::content_encoding];
    if (!encoding.empty() && !starts_with_ci(encoding, "identity")) {
      return refuse(415, "unsupported_encoding",
                    "Content-Encoding is not accepted; send the body uncompressed");
    }
    if (starts_with_ci(header[http::field::content_type], "multipart/")) {
      return refuse(415, "unsupported_media_type",
                    "multipart bodies are not accepted; send JSON (or the raw image to /embed)");
    }
    const std::string_view length = header[http::field::content_length];
    const bool chunked = !header[http::field::transfer_encoding].empty();
    if (!chunked && (length.empty() || length == "0")) {
      return refuse(400, "missing_body", "the request needs a body");
    }
  }
  if (route->api && api_in_flight_.load() >= options_.max_in_flight) {
    auto response = refuse(503, "too_many_requests",
                           "the server is answering its maximum of " +
                               std::to_string(options_.max_in_flight) + " requests");
    response->set(http::field::retry_after, "1");
    return response;
  }
  ++in_flight_;
  record.admitted = true;
  if (route->api) {
    ++api_in_flight_;
    record.api = true;
  }
  return std::nullopt;
}

void ApiHandler::handle(HttpRequest request, RequestRecord record,
                        std::shared_ptr<Cancellation> cancellation, Respond respond) {
  auto call = std::make_shared<Call>(
      Call{std::move(request), std::move(record), std::move(cancellation), std::move(respond)});
  try {
    for (const Route& r : routes()) {
      if (r.path == call->record.route) return (this->*r.handler)(call);
    }
    throw ApiError{500, "server_error", "internal", "no handler for " + call->record.route, 0};
  } catch (const ApiError& e) {
    reply_error(call, e);
  } catch (const Error& e) {
    reply_error(call, api_error_for(e, ""));
  } catch (const std::bad_alloc&) {
    reply_error(call, api_error_for(Error(ErrorCode::kMemoryExhausted,
                                          "not enough memory for this request now; retry later"),
                                    ""));
  } catch (const std::exception& e) {
    reply_error(call, ApiError{500, "server_error", "internal", e.what(), 0});
  }
}

void ApiHandler::reply(const std::shared_ptr<Call>& call, HttpResponse response) {
  call->respond(std::move(response), call->record);
}

void ApiHandler::reply_error(const std::shared_ptr<Call>& call, const ApiError& error) {
  call->record.error_code = error.code;
  HttpResponse response = json_response(error.status, error_body(error));
  if (error.retry_after_seconds > 0) {
    response.set(http::field::retry_after, std::to_string(error.retry_after_seconds));
  }
  reply(call, std::move(response));
}

HttpResponse ApiHandler::error_response(int status, const std::string& code,
                                        const std::string& message) {
  ApiError error{status, status >= 500 ? "server_error" : "invalid_request_error", code, message,
                 0};
  if (status == 401) error.type = "authentication_error";
  return json_response(status, error_body(error));
}

void ApiHandler::finished(const RequestRecord& record) {
  metrics_.record(record.route, record.status, record.seconds, record.error_code);
  write_access_log(record, options_.log_format);
  if (record.api) --api_in_flight_;
  if (record.admitted && --in_flight_ == 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.notify_all();
  }
}

bool ApiHandler::wait_idle(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return in_flight_.load() == 0; });
}

// "Loaded" is the pool's own word for it: the server keeps no second record.
bool ApiHandler::loaded(const std::string& name) const { return pool_.stats(name).loaded; }

bool ApiHandler::ready() const { return !draining_ && loaded(models_.default_model().name); }

bool ApiHandler::live() const {
  for (const ServedModel& m : models_.models()) {
    if (pool_.stats(m.name).stalled_seconds > options_.stall_seconds) return false;
  }
  return true;
}

ApiHandler::Served ApiHandler::serving(const std::string& requested) const {
  const std::optional<ServedModel> model = models_.find(requested);
  if (!model) {
    std::string names;
    for (const ServedModel& m : models_.models()) {
      for (const std::string& n : models_.names_of(m.name))
        names += (names.empty() ? "" : ", ") + n;
    }
    throw ApiError{404, "invalid_request_error", "model_not_found",
                   "model '" + requested + "' is not served here (served: " + names + ")", 0};
  }
  if (!loaded(model->name)) {
    throw ApiError{503, "service_unavailable", "model_loading",
                   "model '" + model->name + "' is still loading", 2};
  }
  return Served{model->name, pool_.embedder(model->name)};
}

nlohmann::json ApiHandler::model_entry(const std::string& name, const std::string& served) const {
  const ModelStats stats = pool_.stats(served);
  nlohmann::json entry = {{"id", name},
                          {"object", "model"},
                          {"owned_by", "clipembed"},
                          {"ready", stats.loaded},
                          {"workers", stats.workers}};
  if (name != served) entry["alias_of"] = served;
  if (stats.loaded) {
    const ModelCapabilities c = pool_.embedder(served)->capabilities();
    entry["family"] = c.family;
    entry["format"] = c.format;
    entry["dimension"] = c.dimension;
    entry["modalities"] = nlohmann::json::array();
    if (c.images) entry["modalities"].push_back("image");
    if (c.texts) entry["modalities"].push_back("text");
    entry["zero_shot"] = zero_shot_rule_name(c.zero_shot);
  }
  return entry;
}

namespace {

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void ApiHandler::models(const std::shared_ptr<Call>& call) {
  nlohmann::json data = nlohmann::json::array();
  for (const ServedModel& m : models_.models()) {
    for (const std::string& name : models_.names_of(m.name)) {
      data.push_back(model_entry(name, m.name));
    }
  }
  reply(call, json_response(200, json_text(nlohmann::json{{"object", "list"}, {"data", data}})));
}

void ApiHandler::model(const std::shared_ptr<Call>& call) {
  // Everything after the route's prefix is the id (a hub id holds a slash).
  const std::string id =
      percent_decoded(path_of(call->request.target()).substr(call->record.route.size()), false);
  const std::optional<ServedModel> m = id.empty() ? std::nullopt : models_.find(id);
  if (!m) {
    throw ApiError{404, "invalid_request_error", "model_not_found",
                   "model '" + id + "' is not served here (GET /v1/models lists them)", 0};
  }
  reply(call, json_response(200, json_text(model_entry(id, m->name))));
}

void ApiHandler::info(const std::shared_ptr<Call>& call) {
  const ServedModel& m = models_.default_model();
  nlohmann::json body = model_entry(m.name, m.name);
  body["version"] = version();
  body["precision"] = precision_name(options_.pool.precision);
  body["max_items_per_request"] = options_.max_items;
  body["max_body_bytes"] = options_.http.max_body_bytes;
  body["models"] = models_.models().size();
  reply(call, json_response(200, json_text(body)));
}

void ApiHandler::metrics(const std::shared_ptr<Call>& call) {
  ServerSnapshot snapshot;
  for (const ServedModel& m : models_.models()) {
    snapshot.models.emplace_back(m.name, pool_.stats(m.name));
  }
  snapshot.pool = pool_.pool_stats();
  snapshot.in_flight = api_in_flight_.load();
  snapshot.connections = connections_ ? connections_() : 0;
  HttpResponse response(http::status::ok, 11);
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.body() = metrics_.render(snapshot);
  reply(call, std::move(response));
}

void ApiHandler::liveness(const std::shared_ptr<Call>& call) {
  const bool ok = live();
  reply(call,
        json_response(ok ? 200 : 503, ok ? R"({"status": "ok"})" : R"({"status": "stalled"})"));
}

void ApiHandler::health(const std::shared_ptr<Call>& call) {
  const bool ok = ready();
  HttpResponse response = json_response(
      ok ? 200 : 503, ok ? R"({"status": "ok"})"
                         : (draining_ ? R"({"status": "draining"})" : R"({"status": "loading"})"));
  if (!ok) response.set(http::field::retry_after, "1");
  reply(call, std::move(response));
}

}  // namespace clipembed::server
