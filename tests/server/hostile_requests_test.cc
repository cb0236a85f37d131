// Hostile clients against the work behind a request (the hardened-server issue's table, continued
// from hostile_client_test.cc): slow URL inputs over the queue or past the deadline, one bad input
// among good ones, multipart and decode budgets, the connection limit, and a client that hangs up.
// Each asserts the status and that no work is left running once the request is answered.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/hostile_client_support.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/raw_http.h"

namespace clipembed::server {
namespace {

using hostile::options;
using hostile::Served;
using nlohmann::json;
using std::chrono::milliseconds;
using testing::http_request;
using testing::RawConnection;
using Clock = std::chrono::steady_clock;

// Row: 8 slow URL inputs against --max-queue 2: refused at once (413: the request can never fit
// the queue), before any download starts: nothing is queued or downloading after the answer.
TEST(HostileClientTest, SlowUrlsOverTheQueueLeaveNothingRunning) {
  testing::HttpTestServer images;
  ServerOptions o = options();
  o.pool.input.url.allow_private_addresses = true;
  o.pool.max_queued_inputs = 2;
  o.pool.request_deadline = milliseconds(2000);
  Served s(o);
  json inputs = json::array();
  for (int i = 0; i < 8; ++i) inputs.push_back(images.url("/drip?ms=10000&i=" + std::to_string(i)));
  const auto start = Clock::now();
  const auto r = s.ask(http_request("POST", "/v1/embeddings", json{{"input", inputs}}.dump()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_LT(Clock::now() - start, milliseconds(500));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(s.metric("clipembed_queue_depth{model=\"tiny\"}"), 0);
  EXPECT_EQ(s.metric("clipembed_url_downloads"), 0);
  for (int i = 0; i < 20 && images.drips() > 0; ++i) std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(images.drips(), 0) << "a download still runs on the image server";
}

// The same inputs under a queue that takes them: the deadline answers 504 at 2 s, and the
// downloads stop with it (not 10 s later).
TEST(HostileClientTest, SlowUrlsPastTheDeadlineAre504AndAborted) {
  testing::HttpTestServer images;
  ServerOptions o = options();
  o.pool.input.url.allow_private_addresses = true;
  o.pool.request_deadline = milliseconds(2000);
  o.pool.max_url_downloads = 4;
  Served s(o);
  json inputs = json::array();
  for (int i = 0; i < 8; ++i) inputs.push_back(images.url("/drip?ms=10000&i=" + std::to_string(i)));
  std::thread watcher([&] {
    std::this_thread::sleep_for(milliseconds(1000));
    EXPECT_LE(s.metric("clipembed_url_downloads"), 4);                // --max-url-downloads holds.
    EXPECT_EQ(s.metric("clipembed_queue_depth{model=\"tiny\"}"), 8);  // Counted from admission.
  });
  const auto start = Clock::now();
  const auto r = s.ask(http_request("POST", "/v1/embeddings", json{{"input", inputs}}.dump()));
  watcher.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(s.metric("clipembed_queue_depth{model=\"tiny\"}"), 0);
  EXPECT_EQ(s.metric("clipembed_url_downloads"), 0);
}

// A header-only JPEG that claims width x height (SOI, SOF0, SOS and no scan data): libjpeg reads
// its header, so the decoder learns the size and nothing more.
std::string huge_jpeg_header(int width, int height) {
  std::string j = "\xFF\xD8\xFF\xC0";
  j += std::string("\x00\x11\x08", 3);
  j += static_cast<char>(height >> 8);
  j += static_cast<char>(height & 255);
  j += static_cast<char>(width >> 8);
  j += static_cast<char>(width & 255);
  j += std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
  j += std::string("\xFF\xDA\x00\x0C\x03\x01\x00\x02\x11\x03\x11\x00\x3F\x00", 14);
  return j;
}

// Row: 1 invalid item and 16 small 9000x9000 JPEGs in one 3 KB request: 400 at once, and the 16
// leave the queue with it. Malformed base64 is refused before anything is queued, so the answer
// always names it; 16 such JPEGs alone fail in decoding, and the first failure cancels the rest.
TEST(HostileClientTest, OneBadInputCancelsTheOthers) {
  Served s(options());
  const std::string jpeg = huge_jpeg_header(9000, 9000);
  json jpegs = json::array();
  for (int i = 0; i < 16; ++i) {
    jpegs.push_back(io::encode_base64(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size()));
  }
  json inputs = json::array({"data:image/png;base64,!!!!"});
  inputs.insert(inputs.end(), jpegs.begin(), jpegs.end());
  for (const json& request_inputs : {inputs, jpegs}) {
    const std::string body = json{{"input", request_inputs}}.dump();
    EXPECT_LT(body.size(), 4096u);
    const auto start = Clock::now();
    const auto r = s.ask(http_request("POST", "/v1/embeddings", body));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    const bool with_bad_base64 = request_inputs.size() == 17;
    EXPECT_NE(r->body.find(with_bad_base64 ? "input[0]: invalid base64" : "input["),
              std::string::npos)
        << r->body;
    EXPECT_LT(Clock::now() - start, milliseconds(500));
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_EQ(s.metric("clipembed_queue_depth{model=\"tiny\"}"), 0);
    EXPECT_EQ(s.metric("clipembed_decode_reserved_bytes"), 0);
  }
}

// Rows: multipart is 415 (not 500); a BMP header claiming 9000x9000 fails without allocating
// its canvas; the decode budget refuses an image it can never hold (413, permanent) instead of
// allocating it.
TEST(HostileClientTest, MultipartBmpHeadersAndTheDecodeBudget) {
  ServerOptions o = options();
  o.pool.max_decode_bytes = 64u << 20;
  Served s(o);
  const auto multipart = s.ask(http_request("POST", "/v1/embeddings", "--x\r\n\r\nhello\r\n--x--",
                                            {"Content-Type: multipart/form-data; boundary=x"}));
  ASSERT_TRUE(multipart);
  EXPECT_EQ(multipart->status, 415);

  std::string bmp = "BM" + std::string(8, '\0') + std::string("\x36\x00\x00\x00", 4);
  bmp += std::string("\x28\x00\x00\x00", 4);                          // BITMAPINFOHEADER.
  bmp += std::string("\x28\x23\x00\x00\x28\x23\x00\x00", 8);          // 9000 x 9000.
  bmp += std::string("\x01\x00\x18\x00", 4) + std::string(24, '\0');  // 24 bits, uncompressed.
  testing::reset_peak_rss();
  const size_t before = testing::current_rss_bytes();
  auto r = s.ask(http_request(
      "POST", "/v1/embeddings",
      json{{"input", io::encode_base64(reinterpret_cast<const uint8_t*>(bmp.data()), bmp.size())}}
          .dump()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("truncated"), std::string::npos) << r->body;
  // 5000 x 5000 needs 75 MB (its canvas) of the 64 MiB budget: refused before allocating.
  const std::string jpeg = huge_jpeg_header(5000, 5000);
  r = s.ask(http_request(
      "POST", "/v1/embeddings",
      json{{"input", io::encode_base64(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size())}}
          .dump()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "image_too_large") << r->body;
  EXPECT_EQ(r->header("retry-after"), "");
  EXPECT_LT(testing::peak_rss_bytes() - before, size_t{32} << 20);
}

// Past --max-connections a new connection gets a canned 503 and is closed.
TEST(HostileClientTest, MaxConnectionsAnswers503) {
  ServerOptions o = options();
  o.max_connections = 4;
  Served s(o);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<RawConnection>(s.port()));
  std::this_thread::sleep_for(milliseconds(100));
  RawConnection extra(s.port());
  const auto r = extra.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "too_many_connections");
  held.clear();
  std::this_thread::sleep_for(milliseconds(100));
  const auto ok = s.ask(http_request("GET", "/health"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// A client that hangs up cancels its request: its inputs leave the queue and downloads stop.
TEST(HostileClientTest, ClientHangingUpCancelsItsRequest) {
  testing::HttpTestServer images;
  ServerOptions o = options();
  o.pool.input.url.allow_private_addresses = true;
  Served s(o);
  {
    RawConnection c(s.port());
    json inputs = json::array();
    for (int i = 0; i < 4; ++i)
      inputs.push_back(images.url("/drip?ms=10000&i=" + std::to_string(i)));
    c.send(http_request("POST", "/v1/embeddings", json{{"input", inputs}}.dump()));
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_EQ(s.metric("clipembed_queue_depth{model=\"tiny\"}"), 4);
  }
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(s.metric("clipembed_queue_depth{model=\"tiny\"}"), 0);
  EXPECT_EQ(s.metric("clipembed_url_downloads"), 0);
}

}  // namespace
}  // namespace clipembed::server
