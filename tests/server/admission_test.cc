// Admission by work: a request's inputs are admitted to the model's queue whole or wait their
// turn, so a request that fits the queue never fails on an idle server, one that can never fit
// is refused for good (413), and 429 means only that waiting work is full.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/hostile_client_support.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/raw_http.h"
#include "support/synthetic_images.h"

namespace clipembed::server {
namespace {

using hostile::image_body;
using hostile::Served;
using nlohmann::json;
using std::chrono::milliseconds;
using testing::fixture_path;
using testing::http_request;
using testing::RawConnection;

// A default `serve` of a model with both towers.
ServerOptions defaults() {
  ServerOptions o;
  o.port = 0;
  o.models = {fixture_path("models/tiny-clip")};
  o.log_format = LogFormat::kOff;
  return o;
}

std::string texts_body(size_t count) {
  json input = json::array();
  for (size_t i = 0; i < count; ++i) input.push_back("a photo of thing " + std::to_string(i));
  return json{{"input", input}, {"modality", "text"}}.dump();
}

// What OpenAI's and LangChain's clients send by default (batches of 512 texts, two requests at
// once) and the largest request --max-items allows, all at once against a default server.
TEST(AdmissionTest, DefaultClientBatchesAndMaxItemsAllSucceed) {
  Served s(defaults());
  std::vector<std::future<std::optional<testing::RawResponse>>> answers;
  for (size_t count : {size_t{512}, size_t{512}, size_t{2048}, size_t{257}}) {
    answers.push_back(std::async(std::launch::async, [&s, count] {
      RawConnection c(s.port());
      c.send(http_request("POST", "/v1/embeddings", texts_body(count)));
      return c.read_response(milliseconds(60000));
    }));
  }
  const size_t counts[] = {512, 512, 2048, 257};
  for (size_t i = 0; i < answers.size(); ++i) {
    const auto r = answers[i].get();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body.substr(0, 300);
    EXPECT_EQ(json::parse(r->body)["data"].size(), counts[i]);
  }
}

// A request larger than the whole queue can never be admitted: 413, naming the flag, without
// Retry-After (a retry cannot help).
TEST(AdmissionTest, RequestLargerThanTheQueueIs413) {
  ServerOptions o = defaults();
  o.pool.max_queued_inputs = 100;
  Served s(o);
  const auto r = s.ask(http_request("POST", "/v1/embeddings", texts_body(101)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  const json error = json::parse(r->body)["error"];
  EXPECT_EQ(error["code"], "request_too_large");
  EXPECT_NE(error["message"].get<std::string>().find("--max-queue"), std::string::npos);
  EXPECT_EQ(r->header("retry-after"), "");
  const auto fits = s.ask(http_request("POST", "/v1/embeddings", texts_body(100)));
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 200);
}

// A request that fits waits while the queue is busy and runs once room frees up; only when the
// waiting line itself is full is a request told to retry (429).
TEST(AdmissionTest, RequestsWaitForRoomAnd429OnlyWhenTheWaitingLineIsFull) {
  testing::HttpTestServer images;
  ServerOptions o = defaults();
  o.pool.input.url.allow_private_addresses = true;
  o.pool.max_queued_inputs = 4;
  Served s(o);
  // Four slow downloads hold the whole queue.
  json slow = json::array();
  for (int i = 0; i < 4; ++i) slow.push_back(images.url("/drip?ms=10000&i=" + std::to_string(i)));
  RawConnection holder(s.port());
  holder.send(http_request("POST", "/v1/embeddings", json{{"input", slow}}.dump()));
  std::this_thread::sleep_for(milliseconds(300));
  // Four texts wait for room...
  RawConnection waiter(s.port());
  waiter.send(http_request("POST", "/v1/embeddings", texts_body(4)));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(s.metric("clipembed_queue_waiting_inputs{model=\"tiny-clip\"}"), 4);
  // ...and one more does not fit the waiting line: retry later.
  const auto refused = s.ask(http_request("POST", "/v1/embeddings", texts_body(1)));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(json::parse(refused->body)["error"]["code"], "overloaded");
  EXPECT_EQ(refused->header("retry-after"), "1");
  // The holder hangs up: its downloads are cancelled and the waiting request runs.
  ::shutdown(holder.fd(), SHUT_RDWR);
  const auto waited = waiter.read_response(milliseconds(10000));
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->status, 200) << waited->body;
  EXPECT_EQ(json::parse(waited->body)["data"].size(), 4u);
}

// Labels are texts: each obeys --max-text-bytes.
TEST(AdmissionTest, ClassifyLabelsObeyTheTextLimit) {
  Served s(defaults());
  const json image = json::parse(image_body("images/square.jpg"))["input"];
  const auto r = s.ask(
      http_request("POST", "/v1/classify",
                   json{{"image", image}, {"labels", {"cat", std::string(2 << 20, 'a')}}}.dump()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  const json error = json::parse(r->body)["error"];
  EXPECT_EQ(error["code"], "text_too_large");
  EXPECT_NE(error["message"].get<std::string>().find("labels[1]"), std::string::npos);
}

// An image whose decode needs more than all of --max-decode-bytes is refused for good (413),
// never with a 429 that no retry can pass.
TEST(AdmissionTest, ImageThatCanNeverFitTheDecodeMemoryIs413) {
  ServerOptions o = defaults();
  o.pool.max_decode_bytes = 64u << 20;
  Served s(o);
  // A PNG header claiming 8000 x 8000 RGB (192 MB of canvas) with an empty image stream.
  const std::string png = testing::png_header_only(8000, 8000, 2);
  const auto r = s.ask(http_request(
      "POST", "/v1/embeddings",
      json{{"input", io::encode_base64(reinterpret_cast<const uint8_t*>(png.data()), png.size())}}
          .dump()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "image_too_large");
  EXPECT_EQ(r->header("retry-after"), "");
}

}  // namespace
}  // namespace clipembed::server
