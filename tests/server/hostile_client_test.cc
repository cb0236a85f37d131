// Replays, over real sockets on 127.0.0.1, what a hostile (or merely broken) client did to the
// old HTTP layer, one test per row of the hardened-server issue's table, and asserts the new
// behaviour: the status, the connection closed where framing was bad, no hidden request run, and
// bounded memory and time. The rows about the work behind a request are in
// hostile_requests_test.cc.
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

using hostile::gzip;
using hostile::image_body;
using hostile::options;
using hostile::raise_fd_limit;
using hostile::Served;
using nlohmann::json;
using std::chrono::milliseconds;
using testing::http_request;
using testing::RawConnection;
using Clock = std::chrono::steady_clock;

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

}  // namespace
}  // namespace clipembed::server
