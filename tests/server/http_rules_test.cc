// The HTTP rules `clipembed serve` keeps for ordinary clients (RFC 9110/9112 details that client
// libraries depend on), each checked on raw sockets where a client library would hide the bytes:
// 100 Continue, HEAD, early refusals, Host, absolute-form targets, HTTP/1.0 framing, the body
// deadline's answer, Bearer credentials and header limits.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "server/hostile_client_support.h"
#include "support/fixtures.h"
#include "support/raw_http.h"

namespace clipembed::server {
namespace {

using hostile::image_body;
using hostile::options;
using hostile::Served;
using nlohmann::json;
using std::chrono::milliseconds;
using testing::http_request;
using testing::RawConnection;
using Clock = std::chrono::steady_clock;

ServerOptions keyed() {
  ServerOptions o = options();
  o.api_key = "K";
  return o;
}

// The header of a request whose body is sent separately.
std::string header_only(const std::string& method, const std::string& target, size_t length,
                        const std::vector<std::string>& extra) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const std::string& h : extra) out += h + "\r\n";
  return out + "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

// curl sends "Expect: 100-continue" with every body over 1 MiB and waits up to a second for the
// interim answer: it comes at once, and the request is answered once the body follows.
TEST(HttpRulesTest, ExpectContinueGetsOneHundredContinueAtOnce) {
  Served s(keyed());
  const std::string body = image_body("images/square.jpg");
  RawConnection c(s.port());
  const auto start = Clock::now();
  c.send(header_only("POST", "/v1/embeddings", body.size(),
                     {"Authorization: Bearer K", "Expect: 100-continue"}));
  const auto interim = c.read_response(milliseconds(2000));
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  EXPECT_LT(Clock::now() - start, milliseconds(300));
  c.send(body);
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

// A request that is refused on its header gets the final status instead of 100 Continue, at
// once, and the connection closes (the client may or may not send the body next).
TEST(HttpRulesTest, ExpectContinueRefusedGetsTheFinalStatusAtOnce) {
  Served s(keyed());
  RawConnection c(s.port());
  const auto start = Clock::now();
  c.send(header_only("POST", "/v1/embeddings", 5 << 20, {"Expect: 100-continue"}));
  const auto r = c.read_response(milliseconds(2000));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_LT(Clock::now() - start, milliseconds(300));
  EXPECT_TRUE(c.closed_within(milliseconds(3000)));
}

// A refused request whose body (<= 1 MiB) has not been sent is answered at once; its body is
// then read and dropped, and the connection serves the next request.
TEST(HttpRulesTest, RefusalOnTheHeaderIsSentBeforeTheBody) {
  Served s(keyed());
  const std::string body(1000, 'x');
  RawConnection c(s.port());
  const auto start = Clock::now();
  c.send(header_only("POST", "/v1/embeddings", body.size(), {}));
  const auto r = c.read_response(milliseconds(2000));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_LT(Clock::now() - start, milliseconds(500));
  c.send(body);
  c.send(http_request("GET", "/health"));
  const auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, R"({"status": "ok"})");
}

// No answer to HEAD has a body, early refusals included; HEAD /health has GET's length.
TEST(HttpRulesTest, HeadAnswersHaveNoBody) {
  Served s(keyed());
  RawConnection c(s.port());
  for (const auto& [target, status] : std::vector<std::pair<std::string, int>>{
           {"/v1/models", 401}, {"/nothing", 404}, {"/v1/embeddings", 405}, {"/health", 200}}) {
    c.send(http_request("HEAD", target));
    const auto r = c.read_response(milliseconds(5000), true);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, status) << target;
    if (target == "/health") {
      EXPECT_EQ(r->header("content-length"), "16");
    }
    // Nothing follows the header: the next answer on the connection starts right there.
    std::this_thread::sleep_for(milliseconds(50));
    c.send(http_request("GET", "/live"));
    const auto next = c.read_response();
    ASSERT_TRUE(next) << "after HEAD " << target;
    EXPECT_EQ(next->status, 200) << "after HEAD " << target;
    EXPECT_EQ(next->body, R"({"status": "ok"})");
    EXPECT_TRUE(c.unread().empty()) << c.unread();
  }
}

// RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any with two, is 400.
TEST(HttpRulesTest, HostMustBeThereOnce) {
  Served s(options());
  for (const std::string& request :
       {std::string("GET /health HTTP/1.1\r\n\r\n"),
        std::string("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")}) {
    const auto r = s.ask(request);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << request;
  }
  const auto old = s.ask("GET /health HTTP/1.0\r\n\r\n");  // HTTP/1.0 needs no Host.
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 200);
}

// RFC 9112 section 3.2.2: a server accepts the absolute form of a target.
TEST(HttpRulesTest, AbsoluteFormTargetsAreServed) {
  Served s(options());
  const std::string authority = "http://127.0.0.1:" + std::to_string(s.port());
  const auto r =
      s.ask(http_request("POST", authority + "/v1/embeddings", image_body("images/square.jpg")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const auto health = s.ask(http_request("GET", "HTTP://127.0.0.1/health?x=1"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding is answered, then the
// connection is closed, even though the client asked to keep it.
TEST(HttpRulesTest, HttpOneZeroWithTransferEncodingClosesTheConnection) {
  Served s(options());
  RawConnection c(s.port());
  c.send(
      "POST /v1/embeddings HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
      "\r\n5\r\nhello\r\n0\r\n\r\n");
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);  // "hello" is not JSON.
  EXPECT_TRUE(c.closed_within(milliseconds(3000)));
}

// A body slower than the minimum rate gets the 400 the server built, then the close.
TEST(HttpRulesTest, SlowBodyIsAnsweredBeforeTheClose) {
  ServerOptions o = options();
  o.http.header_timeout = milliseconds(300);
  o.http.min_body_rate = 1000;
  Served s(o);
  RawConnection c(s.port());
  c.send(header_only("POST", "/v1/embeddings", 1000, {}));
  c.send("{\"input\": ");
  const auto r = c.read_response(milliseconds(5000));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "incomplete_body");
  EXPECT_TRUE(c.closed_within(milliseconds(4000)));
}

// 401 names the scheme (RFC 9110 section 11.6.1), and the credentials may be separated from it
// by several spaces (RFC 6750: 1*SP).
TEST(HttpRulesTest, BearerCredentials) {
  Served s(keyed());
  const auto refused = s.ask(http_request("GET", "/v1/models"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->header("www-authenticate"), "Bearer");
  for (const char* auth : {"Bearer K", "Bearer  K", "bearer K"}) {
    const auto r =
        s.ask(http_request("GET", "/v1/models", "", {std::string("Authorization: ") + auth}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << auth;
  }
  const auto wrong = s.ask(http_request("GET", "/v1/models", "", {"Authorization: Bearer  KK"}));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
}

// One header line of 40 KB after a short request line is a header problem (431), not the
// request line's (414).
TEST(HttpRulesTest, OneLongHeaderLineIs431) {
  Served s(options());
  const auto r =
      s.ask(http_request("GET", "/health", "", {"X-Long: " + std::string(40 * 1024, 'a')}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  const auto line = s.ask(http_request("GET", "/" + std::string(9000, 'a')));
  ASSERT_TRUE(line);
  EXPECT_EQ(line->status, 414);
}

}  // namespace
}  // namespace clipembed::server
