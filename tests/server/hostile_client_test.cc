// Replays, over real sockets on 127.0.0.1, what a hostile (or merely broken) client did to the
// old HTTP layer, one test per row of the hardened-server issue's table, and asserts the new
// behaviour: the status, the connection closed where framing was bad, no hidden request run,
// bounded memory and time, and no work left running once a request is answered.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/base64.h"
#include "io/file.h"
#include "server/http_server.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"
#include "support/raw_http.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::fixture_path;
using testing::http_request;
using testing::RawConnection;
using Clock = std::chrono::steady_clock;

ServerOptions options() {
  ServerOptions o;
  o.port = 0;
  o.models = {fixture_path("models/tiny")};
  o.log_format = LogFormat::kOff;
  return o;
}

class Served {
 public:
  explicit Served(ServerOptions o) : server_(std::make_unique<EmbeddingServer>(std::move(o))) {
    port_ = server_->start();
    for (int i = 0; i < 500 && !server_->ready(); ++i)
      std::this_thread::sleep_for(milliseconds(10));
  }
  int port() const { return port_; }
  EmbeddingServer& server() { return *server_; }
  // One request on a new connection.
  std::optional<testing::RawResponse> ask(const std::string& request) const {
    RawConnection c(port_);
    c.send(request);
    return c.read_response();
  }
  // A metric's value from /metrics (-1 when absent).
  double metric(const std::string& series) const {
    const auto r = ask(http_request("GET", "/metrics"));
    if (!r) return -1;
    const size_t at = r->body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(r->body.substr(at + series.size() + 2));
  }

 private:
  std::unique_ptr<EmbeddingServer> server_;
  int port_ = 0;
};

std::string image_body(const std::string& fixture) {
  const auto bytes = io::read_file(fixture_path(fixture));
  return json{{"input", io::encode_base64(bytes.data(), bytes.size())}}.dump();
}

std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void raise_fd_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// Row: 10 MiB of '[' sent gzip-compressed (10 KB on the wire): +765 MiB before.
TEST(HostileClientTest, CompressedBodiesAre415WithoutInflating) {
  Served s(options());
  const std::string body = gzip(std::string(10 << 20, '['));
  testing::reset_peak_rss();
  const size_t before = testing::current_rss_bytes();
  const auto r = s.ask(http_request("POST", "/v1/embeddings", body,
                                    {"Content-Encoding: gzip", "Content-Type: application/json"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "unsupported_encoding");
  EXPECT_LT(testing::peak_rss_bytes() - before, 2 * body.size() + (8u << 20));
}

// Row: 100k nested arrays, and a request too deep inside a field: refused before any work, in
// bounded memory.
TEST(HostileClientTest, DeepNestingIsRefusedInBoundedMemory) {
  Served s(options());
  for (const std::string& body :
       {std::string(100000, '['), "{\"input\": " + std::string(100000, '[')}) {
    testing::reset_peak_rss();
    const size_t before = testing::current_rss_bytes();
    const auto r = s.ask(http_request("POST", "/v1/embeddings", body));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_json");
    EXPECT_LT(testing::peak_rss_bytes() - before, 2 * body.size() + (8u << 20));
  }
}

// Rows: 64 connections trickling headers; --io-threads 2 with 2 tricklers; plus 1,000 idle and
// trickling connections: a normal request is still answered in under a second.
TEST(HostileClientTest, ThousandIdleAndTricklingConnectionsDoNotBlockOthers) {
  raise_fd_limit();
  ServerOptions o = options();
  o.io_threads = 2;
  Served s(o);
  std::vector<std::unique_ptr<RawConnection>> crowd;
  for (int i = 0; i < 1000; ++i) {
    crowd.push_back(std::make_unique<RawConnection>(s.port()));
    if (i % 2 == 0) crowd.back()->send("POST /v1/embeddings HTTP/1.1\r\nHo");  // Trickling.
  }
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < crowd.size(); i += 2) crowd[i]->send("s");
    const auto start = Clock::now();
    const auto r = s.ask(http_request("POST", "/v1/embeddings", image_body("images/gray.png")));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(Clock::now() - start, milliseconds(1000 * testing::kSanitizerSlowdown));
    const auto health = s.ask(http_request("GET", "/health"));
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }
  EXPECT_GE(s.metric("clipembed_http_connections"), 1000);
}

// A header that never completes is cut off at the header deadline, however it trickles.
TEST(HostileClientTest, SlowHeadersAreCutOffAtTheHeaderDeadline) {
  ServerOptions o = options();
  o.http.header_timeout = milliseconds(500);
  Served s(o);
  RawConnection c(s.port());
  const auto start = Clock::now();
  c.send("GET /health HTTP/1.1\r\n");
  bool closed = false;
  for (int i = 0; i < 30 && !closed; ++i) {
    closed = !c.send("X") || c.closed_within(milliseconds(100));
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
}

// Row: POST /embed with no body and no Content-Length: 400 at once, not after 30 s.
TEST(HostileClientTest, MissingBodyIs400AtOnce) {
  Served s(options());
  const auto start = Clock::now();
  const auto r = s.ask("POST /embed HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "missing_body");
  EXPECT_LT(Clock::now() - start, milliseconds(200));
}

// Rows: bad framing of every kind is 400 and closes the connection, and whatever followed it
// (here a request for /health) is never answered.
TEST(HostileClientTest, BadFramingIs400AndClosesTheConnection) {
  Served s(options());
  const std::string hidden = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::vector<std::string> cases = {
      "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      "POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n",
      "POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
      "2\r\nab\r\n0\r\n\r\n",
      "POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n"
      "abcdefghijklmnop\r\n0\r\n\r\n",
      "POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
      "GET /health HTTP/1.1\r\nHost: x\nX-Bare: lf\r\n\r\n",
      "GET /health HTTP/1.1\nHost: x\n\n",
  };
  for (const std::string& request : cases) {
    SCOPED_TRACE(request);
    RawConnection c(s.port());
    c.send(request + hidden);
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_FALSE(c.read_response(milliseconds(300))) << "the hidden request was answered";
    EXPECT_TRUE(c.closed_within(milliseconds(2000)));
  }
  EXPECT_EQ(s.metric("clipembed_http_requests_total{route=\"/health\",status=\"200\"}"), -1);
}

// Row: a wrong API key with a second request as the body; also after 503 and 413 answered
// before the body was read. The body is drained (or the connection closed), never parsed as a
// request, so the hidden embedding never runs; the OpenAI SDK's retry on the same connection
// then works.
TEST(HostileClientTest, EarlyAnswersNeverRunTheBodyAsARequest) {
  ServerOptions o = options();
  o.api_key = "sk-right";
  o.http.max_body_bytes = 1 << 20;
  Served s(o);
  const std::string auth = "Authorization: Bearer sk-right";
  const std::string smuggled =
      http_request("POST", "/v1/embeddings", image_body("images/gray.png"), {auth});
  {
    RawConnection c(s.port());
    c.send(http_request("POST", "/v1/embeddings", smuggled, {"Authorization: Bearer sk-wrong"}));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_FALSE(c.read_response(milliseconds(300)));
    // The connection is still good for the next request.
    c.send(http_request("GET", "/v1/models", "", {auth}));
    const auto next = c.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
  }
  {
    // Over the body limit: 413, and the connection closes instead of reading 2 MiB.
    const std::string oversized =
        http_request("POST", "/v1/embeddings", std::string(2 << 20, 'x') + smuggled, {auth});
    RawConnection c(s.port());
    c.send_async(oversized);
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.closed_within(milliseconds(3000)));
  }
  EXPECT_EQ(s.metric("clipembed_images_embedded_total{model=\"tiny\"}"), 0);
}

// Row: two pipelined GETs in one write: both answered, in order.
TEST(HostileClientTest, PipelinedRequestsAreAnsweredInOrder) {
  Served s(options());
  RawConnection c(s.port());
  c.send(http_request("GET", "/health", "", {"X-Request-Id: first"}) +
         http_request("GET", "/v1/models", "", {"X-Request-Id: second"}) +
         http_request("POST", "/v1/embeddings", image_body("images/gray.png"),
                      {"X-Request-Id: third"}));
  for (const char* id : {"first", "second", "third"}) {
    const auto r = c.read_response();
    ASSERT_TRUE(r) << id;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-request-id"), id);
  }
}

// Rows: a 50 MiB request line without LF, and 50 MiB of header lines: 414 and 431, the
// connection closed, nothing kept.
TEST(HostileClientTest, HugeRequestLinesAndHeadersAreRefusedWithoutBuffering) {
  Served s(options());
  struct Case {
    std::string bytes;
    int status;
  };
  const std::vector<Case> cases = {
      {"GET /" + std::string(50 << 20, 'a'), 414},
      {"GET /health HTTP/1.1\r\n" +
           [] {
             std::string lines;
             while (lines.size() < (50u << 20)) lines += "X-Filler: 0123456789abcdef\r\n";
             return lines;
           }(),
       431},
  };
  for (const Case& k : cases) {
    testing::reset_peak_rss();
    const size_t before = testing::current_rss_bytes();
    RawConnection c(s.port());
    c.send_async(k.bytes);
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, k.status);
    EXPECT_TRUE(c.closed_within(milliseconds(3000)));
    // The client's own 50 MiB string is allocated before the reset; the server adds little.
    EXPECT_LT(testing::peak_rss_bytes() - before, size_t{8} << 20);
  }
}

// Row: 8 slow URL inputs against --max-queue 2: refused at once (429), and every download that
// started is aborted: 100 ms after the answer nothing is queued or downloading.
TEST(HostileClientTest, SlowUrlsOverTheQueueLeaveNothingRunning) {
  testing::HttpTestServer images;
  ServerOptions o = options();
  o.allow_private_urls = true;
  o.pool.max_queued_requests = 2;
  o.request_deadline = milliseconds(2000);
  Served s(o);
  json inputs = json::array();
  for (int i = 0; i < 8; ++i) inputs.push_back(images.url("/drip?ms=10000&i=" + std::to_string(i)));
  const auto start = Clock::now();
  const auto r = s.ask(http_request("POST", "/v1/embeddings", json{{"input", inputs}}.dump()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
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
  o.allow_private_urls = true;
  o.request_deadline = milliseconds(2000);
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
// leave the queue with it.
TEST(HostileClientTest, OneBadInputCancelsTheOthers) {
  Served s(options());
  json inputs = json::array({"data:image/png;base64,!!!!"});
  const std::string jpeg = huge_jpeg_header(9000, 9000);
  for (int i = 0; i < 16; ++i) {
    inputs.push_back(io::encode_base64(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size()));
  }
  const std::string body = json{{"input", inputs}}.dump();
  EXPECT_LT(body.size(), 4096u);
  const auto start = Clock::now();
  const auto r = s.ask(http_request("POST", "/v1/embeddings", body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("input[0]"), std::string::npos) << r->body;
  EXPECT_LT(Clock::now() - start, milliseconds(500));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(s.metric("clipembed_queue_depth{model=\"tiny\"}"), 0);
  EXPECT_EQ(s.metric("clipembed_decode_reserved_bytes"), 0);
}

// Rows: multipart is 415 (not 500); a BMP header claiming 9000x9000 fails without allocating
// its canvas; the decode budget refuses (429) an image it cannot hold instead of allocating it.
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
  // 5000 x 5000 needs 150 MB of the 64 MiB budget: refused before allocating.
  const std::string jpeg = huge_jpeg_header(5000, 5000);
  r = s.ask(http_request(
      "POST", "/v1/embeddings",
      json{{"input", io::encode_base64(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size())}}
          .dump()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
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
  o.allow_private_urls = true;
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
