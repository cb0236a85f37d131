// The server as the clients people use drive it: the OpenAI SDK's request sequence (base64 by
// default, retries after 503 on one connection), infinity's (/embeddings, "modality", its default
// model name), text and image requests against a two-tower model, zero-shot labels, and the
// operations endpoints (/ready, /live with a stuck compute path). Vectors are compared with the
// CLI's output bit for bit.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "clipembed/runtime.h"
#include "io/base64.h"
#include "io/file.h"
#include "server/http_server.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/raw_http.h"
#include "support/served_server.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::fixture_path;
using testing::http_request;
using testing::RawConnection;

std::string base64_file(const std::string& fixture) {
  const auto bytes = io::read_file(fixture_path(fixture));
  return io::encode_base64(bytes.data(), bytes.size());
}

std::vector<float> floats_of_base64(const std::string& text) {
  const auto bytes = io::decode_base64(text, 1 << 20);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

// Runs the CLI and returns its stdout's JSON lines.
std::vector<json> cli_lines(const std::string& arguments) {
  const std::string command = std::string(CLIPEMBED_CLI_PATH) + " " + arguments + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  pclose(pipe);
  std::vector<json> lines;
  size_t start = 0;
  for (size_t end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(json::parse(out.substr(start, end - start)));
  }
  return lines;
}

using Served = testing::ServedServer;

ServerOptions options(const std::string& model) { return testing::served_options(model); }

// The headers the OpenAI Node SDK (6.x) sends with every request.
std::vector<std::string> openai_headers(int retry) {
  return {"Accept: application/json",           "Content-Type: application/json",
          "User-Agent: OpenAI/JS 6.9.1",        "X-Stainless-Lang: js",
          "X-Stainless-Package-Version: 6.9.1", "X-Stainless-Retry-Count: " + std::to_string(retry),
          "X-Stainless-Timeout: 600",           "Authorization: Bearer sk-test"};
}

TEST(ClientsTest, OpenAiSdkSequenceWithRetryOnOneConnection) {
  testing::HttpTestServer images;
  ServerOptions o = options("tiny");
  o.api_key = "sk-test";
  o.max_in_flight = 1;
  o.pool.input.url.allow_private_addresses = true;
  Served s(o);
  // One request holds the only slot, so the SDK's first try gets 503 (answered before its body
  // is read); the SDK then retries on the same keep-alive connection.
  RawConnection busy(s.port());
  busy.send(http_request("POST", "/v1/embeddings",
                         json{{"input", images.url("/drip?ms=600")}}.dump(), openai_headers(0)));
  std::this_thread::sleep_for(milliseconds(200));

  const std::string body = json{
      {"model", "tiny"},
      {"input", {base64_file("images/gray.png")}},
      {"encoding_format",
       "base64"}}.dump();
  RawConnection sdk(s.port());
  sdk.send(http_request("POST", "/v1/embeddings", body, openai_headers(0)));
  const auto first = sdk.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 503);
  EXPECT_FALSE(first->header("retry-after").empty());
  EXPECT_NE(first->header("connection"), "close");
  ASSERT_TRUE(busy.read_response());  // The slot is free again once that answer is written.
  // As the SDK does, wait what Retry-After says before retrying.
  std::this_thread::sleep_for(std::chrono::seconds(std::stoi(first->header("retry-after"))));
  sdk.send(http_request("POST", "/v1/embeddings", body, openai_headers(1)));
  const auto retried = sdk.read_response();
  ASSERT_TRUE(retried);
  ASSERT_EQ(retried->status, 200) << retried->body;
  EXPECT_FALSE(retried->header("x-request-id").empty());
  EXPECT_FALSE(retried->header("x-queue-time-ms").empty());
  EXPECT_FALSE(retried->header("x-compute-time-ms").empty());
  const json answer = json::parse(retried->body);
  EXPECT_EQ(answer["model"], "tiny");
  const std::vector<float> vector =
      floats_of_base64(answer["data"][0]["embedding"].get<std::string>());

  // Unit length by default, and equal bit for bit to `clipembed embed --normalize`.
  const auto cli = cli_lines("embed --model " + fixture_path("models/tiny") + " --normalize " +
                             fixture_path("images/gray.png"));
  ASSERT_EQ(cli.size(), 1u);
  EXPECT_EQ(vector, cli[0]["embedding"].get<std::vector<float>>());
  double norm = 0;
  for (float x : vector) norm += double{x} * x;
  EXPECT_NEAR(norm, 1.0, 1e-6);

  // The float form of the same request, on the same connection, gives the same bits.
  sdk.send(http_request("POST", "/v1/embeddings",
                        json{{"model", "tiny"},
                             {"input", base64_file("images/gray.png")},
                             {"encoding_format", "float"}}
                            .dump(),
                        openai_headers(0)));
  const auto as_float = sdk.read_response();
  ASSERT_TRUE(as_float);
  EXPECT_EQ(json::parse(as_float->body)["data"][0]["embedding"].get<std::vector<float>>(), vector);
}

TEST(ClientsTest, InfinityClientSequence) {
  ServerOptions o = options("tiny-clip");
  o.aliases = {"default/not-specified"};
  Served s(o);
  RawConnection c(s.port());
  // infinity's client: /embeddings without /v1, its default model name, "modality".
  c.send(http_request("POST", "/embeddings",
                      json{{"model", "default/not-specified"},
                           {"input", {"data:image/png;base64," + base64_file("images/gray.png")}},
                           {"modality", "image"},
                           {"encoding_format", "float"}}
                          .dump(),
                      {"Content-Type: application/json"}));
  const auto image = c.read_response();
  ASSERT_TRUE(image);
  ASSERT_EQ(image->status, 200) << image->body;
  const auto cli_image = cli_lines("embed --model " + fixture_path("models/tiny-clip") +
                                   " --normalize " + fixture_path("images/gray.png"));
  ASSERT_EQ(cli_image.size(), 1u);
  EXPECT_EQ(json::parse(image->body)["data"][0]["embedding"].get<std::vector<float>>(),
            cli_image[0]["embedding"].get<std::vector<float>>());

  c.send(http_request("POST", "/embeddings",
                      json{{"model", "default/not-specified"},
                           {"input", {"a photo of a cat", "a dog"}},
                           {"modality", "text"}}
                          .dump()));
  const auto text = c.read_response();
  ASSERT_TRUE(text);
  ASSERT_EQ(text->status, 200) << text->body;
  const auto cli_text = cli_lines("embed-text --model " + fixture_path("models/tiny-clip") +
                                  " --normalize \"a photo of a cat\" \"a dog\"");
  ASSERT_EQ(cli_text.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(json::parse(text->body)["data"][i]["embedding"].get<std::vector<float>>(),
              cli_text[i]["embedding"].get<std::vector<float>>());
  }
  // Without "modality", each input is judged by its form: one image, one text.
  c.send(http_request("POST", "/v1/embeddings",
                      json{{"input", {base64_file("images/gray.png"), "a dog"}}}.dump()));
  const auto mixed = c.read_response();
  ASSERT_TRUE(mixed);
  ASSERT_EQ(mixed->status, 200) << mixed->body;
  const json m = json::parse(mixed->body);
  EXPECT_EQ(m["data"][0]["embedding"].get<std::vector<float>>(),
            cli_image[0]["embedding"].get<std::vector<float>>());
  EXPECT_EQ(m["data"][1]["embedding"].get<std::vector<float>>(),
            cli_text[1]["embedding"].get<std::vector<float>>());
  EXPECT_EQ(m["model"], "tiny-clip");

  // /v1/models lists the name and the alias, with the dimension.
  c.send(http_request("GET", "/v1/models"));
  const auto models = c.read_response();
  ASSERT_TRUE(models);
  const json list = json::parse(models->body)["data"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], "tiny-clip");
  EXPECT_EQ(list[0]["dimension"], 16);
  EXPECT_EQ(list[1]["id"], "default/not-specified");
}

TEST(ClientsTest, ModalityDimensionsAndNormalizeRules) {
  ServerOptions o = options("tiny");
  Served s(o);
  auto ask = [&](const json& body) {
    RawConnection c(s.port());
    c.send(http_request("POST", "/v1/embeddings", body.dump()));
    auto r = c.read_response();
    EXPECT_TRUE(r);
    return r ? std::make_pair(r->status, json::parse(r->body)) : std::make_pair(0, json());
  };
  // A text for a vision-only model says what it was taken for.
  auto [status, body] = ask({{"input", "a photo of a cat"}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["code"], "unsupported_modality");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("taken for a text"),
            std::string::npos);
  std::tie(status, body) = ask({{"input", "a photo of a cat"}, {"modality", "text"}});
  EXPECT_EQ(body["error"]["code"], "unsupported_modality");
  std::tie(status, body) = ask({{"input", "hello"}, {"modality", "image"}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["code"], "not_an_image");
  // dimensions: the model's is fine, any other is refused.
  const std::string image = base64_file("images/gray.png");
  std::tie(status, body) = ask({{"input", image}, {"dimensions", 16}});
  EXPECT_EQ(status, 200);
  std::tie(status, body) = ask({{"input", image}, {"dimensions", 8}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["code"], "unsupported_dimensions");
  // "normalize": false gives the model's raw vector.
  std::tie(status, body) = ask({{"input", image}, {"normalize", false}});
  ASSERT_EQ(status, 200);
  EXPECT_EQ(
      body["data"][0]["embedding"].get<std::vector<float>>(),
      ClipModel::load(fixture_path("models/tiny"))->embed_image(fixture_path("images/gray.png")));
  // An unknown model name lists the served ones.
  std::tie(status, body) = ask({{"input", image}, {"model", "clip-vit-large"}});
  EXPECT_EQ(status, 404);
  EXPECT_NE(body["error"]["message"].get<std::string>().find("tiny"), std::string::npos);
}

TEST(ClientsTest, ClassifyEqualsTheCli) {
  Served s(options("tiny-clip"));
  RawConnection c(s.port());
  const std::vector<std::string> labels = {"cat", "dog", "car"};
  c.send(http_request("POST", "/v1/classify",
                      json{{"image", base64_file("images/square.jpg")},
                           {"labels", labels},
                           {"template", "a photo of a {}."}}
                          .dump()));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto cli = cli_lines("classify --model " + fixture_path("models/tiny-clip") +
                             " --labels cat,dog,car " + fixture_path("images/square.jpg"));
  ASSERT_EQ(cli.size(), 1u);
  EXPECT_EQ(json::parse(r->body)["data"][0]["labels"], cli[0]["labels"]);
  // Malformed base64 among the images is named in the answer, before any image is embedded.
  c.send(http_request(
      "POST", "/v1/classify",
      json{{"image", json::array({base64_file("images/square.jpg"), "data:image/png;base64,!!!!"})},
           {"labels", labels}}
          .dump()));
  const auto bad = c.read_response();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("image[1]: invalid base64"), std::string::npos) << bad->body;
}

// The OpenAI SDK's models.retrieve (GET /v1/models/{id}) and TEI's GET /info: the served model
// with its family, dimension, modalities and zero-shot rule; an unknown id is a 404.
TEST(ClientsTest, ModelRetrieveAndInfoDescribeTheServedModel) {
  ServerOptions o = options("tiny-clip");
  o.models = {"clip-small=" + fixture_path("models/tiny-clip")};
  Served s(o);
  RawConnection c(s.port());
  for (const char* target : {"/v1/models/clip-small", "/models/clip%2Dsmall"}) {
    c.send(http_request("GET", target));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << target << ": " << r->body;
    const json body = json::parse(r->body);
    EXPECT_EQ(body["id"], "clip-small") << target;
    EXPECT_EQ(body["object"], "model");
    EXPECT_EQ(body["family"], "clip");
    EXPECT_EQ(body["dimension"], 16);
    EXPECT_EQ(body["modalities"], json::array({"image", "text"}));
    EXPECT_EQ(body["zero_shot"], "softmax");
  }
  c.send(http_request("GET", "/v1/models/openai/clip-vit-base-patch32"));
  const auto missing = c.read_response();
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("model_not_found"), std::string::npos) << missing->body;
  c.send(http_request("GET", "/info"));
  const auto info = c.read_response();
  ASSERT_TRUE(info);
  ASSERT_EQ(info->status, 200) << info->body;
  const json body = json::parse(info->body);
  EXPECT_EQ(body["id"], "clip-small");
  EXPECT_EQ(body["precision"], "fp32");
  EXPECT_EQ(body["max_items_per_request"], 2048);
  EXPECT_EQ(body["version"].get<std::string>().rfind("0.", 0), 0u) << info->body;
}

// A SigLIP model behind the same routes: its text vectors and its sigmoid label scores are the
// CLI's, bit for bit.
TEST(ClientsTest, SiglipServesTheCliVectorsAndScores) {
  for (const char* name : {"tiny-siglip", "tiny-siglip2"}) {
    const std::string dir = fixture_path(std::string("siglip/models/") + name);
    ServerOptions o = options("tiny");
    o.models = {dir};
    Served s(o);
    RawConnection c(s.port());
    c.send(http_request("POST", "/v1/embeddings",
                        json{{"input", json::array({"a photo of a cat", "A Photo, OF a CAT!"})},
                             {"modality", "text"},
                             {"normalize", false},
                             {"encoding_format", "float"}}
                            .dump()));
    const auto texts = c.read_response();
    ASSERT_TRUE(texts);
    ASSERT_EQ(texts->status, 200) << texts->body;
    const auto cli_texts =
        cli_lines("embed-text --model " + dir + " 'a photo of a cat' 'A Photo, OF a CAT!'");
    ASSERT_EQ(cli_texts.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(json::parse(texts->body)["data"][i]["embedding"], cli_texts[i]["embedding"])
          << name;
    }
    c.send(http_request("POST", "/v1/classify",
                        json{{"image", base64_file("images/square.jpg")},
                             {"labels", json::array({"cat", "dog", "car"})}}
                            .dump()));
    const auto labels = c.read_response();
    ASSERT_TRUE(labels);
    ASSERT_EQ(labels->status, 200) << labels->body;
    const auto cli = cli_lines("classify --model " + dir + " --labels cat,dog,car " +
                               fixture_path("images/square.jpg"));
    ASSERT_EQ(cli.size(), 1u);
    EXPECT_EQ(json::parse(labels->body)["data"][0]["labels"], cli[0]["labels"]) << name;
  }
}

// /live turns 503 when queued work makes no progress for --stall-seconds: here every runtime
// thread is held by a task that waits for the test, so the compute path is stuck for sure.
TEST(ClientsTest, LiveFailsWhenTheComputePathIsStuck) {
  ServerOptions o = options("tiny");
  o.stall_seconds = 0.3;
  Served s(o);
  auto get = [&](const std::string& path) {
    RawConnection c(s.port());
    c.send(http_request("GET", path));
    const auto r = c.read_response();
    return r ? r->status : 0;
  };
  EXPECT_EQ(get("/live"), 200);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::future<void>> blockers;
  for (int i = 0; i < shared_runtime().num_threads(); ++i) {
    blockers.push_back(shared_runtime().submit([released] { released.wait(); }));
  }
  RawConnection c(s.port());
  c.send(http_request("POST", "/v1/embeddings",
                      json{{"input", base64_file("images/gray.png")}}.dump()));
  std::this_thread::sleep_for(milliseconds(800));
  EXPECT_EQ(get("/live"), 503);
  EXPECT_EQ(get("/ready"), 200);  // Ready (loaded), but not live.
  release.set_value();
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (auto& b : blockers) b.get();
  EXPECT_EQ(get("/live"), 200);
}

}  // namespace
}  // namespace clipembed::server
