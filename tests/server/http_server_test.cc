// Starts the real server on 127.0.0.1 (in this process) and talks HTTP to it.
#include "server/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "clipembed/model.h"
#include "io/base64.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/served_server.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
using testing::fixture_path;

std::string base64_of(const std::string& fixture) {
  const auto bytes = io::read_file(fixture_path(fixture));
  return io::encode_base64(bytes.data(), bytes.size());
}

using Served = testing::ServedServer;

httplib::Client client_of(const Served& s) {
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(60);
  return c;
}

ServerOptions tiny_options() {
  ServerOptions o;
  o.port = 0;
  o.models = {fixture_path("models/tiny")};
  o.normalize = false;  // Compared with the library's raw vectors (normalization: its own test).
  o.log_format = LogFormat::kOff;
  return o;
}

json post_json(httplib::Client& c, const json& body, int* status, httplib::Headers headers = {}) {
  auto r = c.Post("/v1/embeddings", headers, body.dump(), "application/json");
  *status = r ? r->status : -1;
  return r ? json::parse(r->body) : json();
}

TEST(HttpServerTest, EmbeddingsEqualTheLibraryForEveryInputForm) {
  Served s(tiny_options());
  auto c = client_of(s);
  auto model = ClipModel::load(fixture_path("models/tiny"));
  const auto square = model->embed_image(fixture_path("images/square.jpg"));
  const auto gray = model->embed_image(fixture_path("images/gray.png"));
  int status = 0;
  const json answer = post_json(
      c,
      {{"input",
        {base64_of("images/square.jpg"), "data:image/png;base64," + base64_of("images/gray.png")}}},
      &status);
  ASSERT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["object"], "list");
  EXPECT_EQ(answer["model"], "tiny");  // A directory is served by its last path component.
  EXPECT_EQ(answer["usage"]["total_tokens"], 0);
  ASSERT_EQ(answer["data"].size(), 2u);
  EXPECT_EQ(answer["data"][0]["index"], 0);
  EXPECT_EQ(answer["data"][0]["object"], "embedding");
  EXPECT_EQ(answer["data"][0]["embedding"].get<std::vector<float>>(), square);
  EXPECT_EQ(answer["data"][1]["embedding"].get<std::vector<float>>(), gray);

  // base64 output: little-endian float32, bit for bit.
  const json b64 = post_json(
      c, {{"input", base64_of("images/gray.png")}, {"encoding_format", "base64"}}, &status);
  ASSERT_EQ(status, 200);
  const auto bytes = io::decode_base64(b64["data"][0]["embedding"].get<std::string>(), 1 << 20);
  std::vector<float> decoded(bytes.size() / 4);
  std::memcpy(decoded.data(), bytes.data(), bytes.size());
  EXPECT_EQ(decoded, gray);

  // The raw route, with curl's default content type.
  const auto raw = io::read_file(fixture_path("images/square.jpg"));
  auto r =
      c.Post("/embed", std::string(raw.begin(), raw.end()), "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["data"][0]["embedding"].get<std::vector<float>>(), square);
}

TEST(HttpServerTest, ServesSeveralModelsByName) {
  ServerOptions o = tiny_options();
  o.models.push_back(fixture_path("models/tiny-p16"));
  Served s(o);
  auto c = client_of(s);
  // /health follows the default model; wait for the second one too.
  for (int i = 0; i < 500; ++i) {
    auto models = c.Get("/v1/models");
    if (models && json::parse(models->body)["data"][1]["ready"] == true) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  const json list = json::parse(models->body)["data"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["id"], "tiny-p16");
  EXPECT_EQ(list[1]["dimension"], 24);
  int status = 0;
  const std::string image = base64_of("images/square.jpg");
  const json first = post_json(c, {{"input", image}}, &status);
  ASSERT_EQ(status, 200);
  const json second = post_json(c, {{"model", "tiny-p16"}, {"input", image}}, &status);
  ASSERT_EQ(status, 200) << second.dump();
  EXPECT_EQ(second["model"], "tiny-p16");
  EXPECT_EQ(second["data"][0]["embedding"].get<std::vector<float>>(),
            ClipModel::load(fixture_path("models/tiny-p16"))
                ->embed_image(fixture_path("images/square.jpg")));
  EXPECT_NE(first["data"][0]["embedding"], second["data"][0]["embedding"]);
}

TEST(HttpServerTest, ModelsHealthAndMetrics) {
  Served s(tiny_options());
  auto c = client_of(s);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "tiny");
  int status = 0;
  post_json(c, {{"input", base64_of("images/gray.png")}}, &status);
  post_json(c, {{"input", "data:image/png;base64,!!"}}, &status);
  // A request is counted once its answer is written, which can be just after the client has
  // read it, and each request's connection completes its write on its own I/O thread: poll
  // briefly until both embeddings requests are counted.
  std::string text;
  for (int i = 0; i < 200; ++i) {
    auto metrics = c.Get("/metrics");
    ASSERT_TRUE(metrics);
    text = metrics->body;
    // The gauge counts API requests only, so this scrape does not count itself.
    if (text.find("route=\"/v1/embeddings\",le=\"+Inf\"} 2") != std::string::npos &&
        text.find("clipembed_http_in_flight_requests 0") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (const char* needle :
       {"clipembed_http_requests_total{route=\"/v1/embeddings\",status=\"200\"} 1",
        "clipembed_http_requests_total{route=\"/v1/embeddings\",status=\"400\"} 1",
        "clipembed_http_errors_total{route=\"/v1/embeddings\",code=\"invalid_base64\"} 1",
        "clipembed_http_request_duration_seconds_bucket{route=\"/v1/embeddings\",le=\"+Inf\"} 2",
        "clipembed_batch_size_count{", "clipembed_images_embedded_total{", "clipembed_queue_depth{",
        "clipembed_model_load_seconds{", "clipembed_queue_wait_seconds_count{model=\"tiny\"} 1",
        "clipembed_forward_seconds_count{model=\"tiny\"} 1", "clipembed_build_info{version=\"",
        "process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ",
        "process_start_time_seconds ", "clipembed_http_in_flight_requests 0\n"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
  }
}

TEST(HttpServerTest, EveryErrorHasItsStatusAndJsonShape) {
  ServerOptions o = tiny_options();
  o.max_items = 3;
  o.http.max_body_bytes = 4000000;
  o.pool.max_queued_inputs = 2;
  Served s(o);
  auto c = client_of(s);
  int status = 0;
  auto expect_error = [&](const json& body, int want, const std::string& code) {
    const json answer = post_json(c, body, &status);
    EXPECT_EQ(status, want) << body.dump().substr(0, 200) << " -> " << answer.dump();
    EXPECT_EQ(answer["error"]["code"], code) << answer.dump();
    EXPECT_TRUE(answer["error"]["message"].is_string());
    EXPECT_TRUE(answer["error"]["type"].is_string());
    return answer;
  };
  // 400, naming the index of the bad item.
  const json bad =
      expect_error({{"input", {base64_of("images/gray.png"), base64_of("images/truncated.jpg")}}},
                   400, "image_decode");
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("input[1]"), std::string::npos);
  expect_error({{"input", {base64_of("images/gray.png"), "data:image/png;base64,not base64!"}}},
               400, "invalid_base64");
  expect_error({{"input", 42}}, 400, "invalid_input");
  expect_error({{"model", "tiny"}}, 400, "missing_input");
  auto garbage = c.Post("/v1/embeddings", "{not json", "application/json");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  // 404: unknown model and unknown route.
  expect_error({{"model", "openai/clip-nope"}, {"input", base64_of("images/gray.png")}}, 404,
               "model_not_found");
  auto missing = c.Get("/v2/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"]["code"], "not_found");
  // 413: too many items, and a body over the limit.
  const std::string g = base64_of("images/gray.png");
  expect_error({{"input", {g, g, g, g}}}, 413, "too_many_inputs");
  expect_error({{"input", std::string(5000000, 'A')}}, 413, "body_too_large");
  // 413 without Retry-After: three images can never fit a queue of two.
  const std::string hd = base64_of("images/hd.jpg");
  auto r = c.Post("/v1/embeddings", json{{"input", {hd, hd, hd}}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "request_too_large");
  EXPECT_EQ(r->get_header_value("Retry-After"), "");
  // URL inputs: loopback refused by default.
  testing::HttpTestServer images;
  expect_error({{"input", images.url("/image.png")}}, 400, "url_forbidden");
}

TEST(HttpServerTest, PrivateUrlsWhenAllowedAndNoUrlsWhenDisabled) {
  testing::HttpTestServer images;
  ServerOptions allowed = tiny_options();
  allowed.pool.input.url.allow_private_addresses = true;
  {
    Served s(allowed);
    auto c = client_of(s);
    int status = 0;
    const json answer = post_json(c, {{"input", images.url("/image.png")}}, &status);
    ASSERT_EQ(status, 200) << answer.dump();
    EXPECT_EQ(
        answer["data"][0]["embedding"].get<std::vector<float>>(),
        ClipModel::load(fixture_path("models/tiny"))->embed_image(fixture_path("images/gray.png")));
  }
  ServerOptions disabled = allowed;
  disabled.allow_url_inputs = false;
  Served s(disabled);
  auto c = client_of(s);
  int status = 0;
  const json answer = post_json(c, {{"input", images.url("/image.png")}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(answer["error"]["code"], "url_inputs_disabled");
}

TEST(HttpServerTest, DeadlineAnswers504) {
  testing::HttpTestServer images;
  ServerOptions o = tiny_options();
  o.pool.input.url.allow_private_addresses = true;
  o.pool.request_deadline = std::chrono::milliseconds(300);
  Served s(o);
  auto c = client_of(s);
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  const json answer = post_json(c, {{"input", images.url("/slow")}}, &status);  // Answers in 1 s.
  EXPECT_EQ(status, 504) << answer.dump();
  EXPECT_EQ(answer["error"]["code"], "deadline_exceeded");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
}

TEST(HttpServerTest, ApiKeyGuardsTheApiButNotHealth) {
  ServerOptions o = tiny_options();
  o.api_key = "sk-test";
  Served s(o);
  auto c = client_of(s);
  int status = 0;
  const json body = {{"input", base64_of("images/gray.png")}};
  EXPECT_EQ(post_json(c, body, &status)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(status, 401);
  post_json(c, body, &status, {{"Authorization", "Bearer sk-wrong"}});
  EXPECT_EQ(status, 401);
  post_json(c, body, &status, {{"Authorization", "Bearer sk-test"}});
  EXPECT_EQ(status, 200);
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 401);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(HttpServerTest, DrainingAnswers503AndFinishesInFlightRequests) {
  testing::HttpTestServer images;
  ServerOptions o = tiny_options();
  o.pool.input.url.allow_private_addresses = true;
  Served s(o);
  auto slow_client = client_of(s);
  int slow_status = 0;
  std::thread slow([&] { post_json(slow_client, {{"input", images.url("/slow")}}, &slow_status); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // The slow request is in flight.
  std::thread drain([&] { s.server().drain_and_stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto c = client_of(s);
  int status = 0;
  const json answer = post_json(c, {{"input", base64_of("images/gray.png")}}, &status);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(answer["error"]["code"], "draining");
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  slow.join();
  drain.join();
  EXPECT_EQ(slow_status, 400);  // /slow is not an image: answered (image_decode), not cut off.
}

// Loading is retried while it fails for a reason that can pass (here: no memory budget), and
// meanwhile the server answers 503 model_loading and /ready fails.
TEST(HttpServerTest, Answers503WhileTheModelCannotLoadYet) {
  ServerOptions o = tiny_options();
  o.pool.memory_budget_bytes = 1;
  Served s(o, /*wait_ready=*/false);
  auto c = client_of(s);
  auto ready = c.Get("/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(json::parse(ready->body)["status"], "loading");
  auto live = c.Get("/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);  // Not loaded is not stuck.
  int status = 0;
  const json answer = post_json(c, {{"input", base64_of("images/gray.png")}}, &status);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(answer["error"]["code"], "model_loading");
  EXPECT_FALSE(s.server().fatal_error().has_value());
}

// A model whose weights are missing cannot become loadable by waiting: fatal_error() says so
// (and `serve` exits 2 with it).
TEST(HttpServerTest, AModelThatCannotLoadIsFatal) {
  const std::filesystem::path dir = testing::temp_path("clipembed_bad_weights");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* f : {"config.json", "preprocessor_config.json"}) {
    std::filesystem::copy_file(fixture_path(std::string("models/tiny/") + f), dir / f);
  }
  std::ofstream(dir / "model.safetensors") << "not a safetensors file";
  ServerOptions o = tiny_options();
  o.models = {dir.string()};
  EmbeddingServer server(o);
  server.check_models();  // The config is fine...
  server.start();
  for (int i = 0; i < 3000 && !server.fatal_error(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(server.fatal_error().has_value());  // ...the weights are not.
  EXPECT_EQ(server.fatal_error()->code(), ErrorCode::kModelInvalid);
  server.drain_and_stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clipembed::server
