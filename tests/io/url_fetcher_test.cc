#include "io/url_fetcher.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <future>

#include "io/address_policy.h"
#include "io/file.h"
#include "support/fixtures.h"
#include "support/http_test_server.h"

namespace clipembed::io {
namespace {

struct Outcome {
  std::vector<uint8_t> body;
  std::optional<ErrorCode> error;
};

Outcome fetch(const std::string& url, UrlOptions options = {}) {
  std::promise<Outcome> done;
  UrlFetcher::instance().fetch(url, options, [&](std::vector<uint8_t>* body, const Error* error) {
    Outcome o;
    if (error != nullptr) o.error = error->code();
    if (body != nullptr) o.body = std::move(*body);
    done.set_value(std::move(o));
  });
  return done.get_future().get();
}

TEST(UrlFetcherTest, DownloadsAndFollowsRedirects) {
  testing::HttpTestServer server;
  const auto expected = read_file(testing::fixture_path("images/gray.png"));
  Outcome o = fetch(server.url("/image.png"));
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.body, expected);
  o = fetch(server.url("/hop"));
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.body, expected);
}

TEST(UrlFetcherTest, FailuresHaveTheirOwnCodes) {
  testing::HttpTestServer server;
  UrlOptions small;
  small.max_bytes = 1 << 20;
  EXPECT_EQ(fetch(server.url("/missing")).error, ErrorCode::kUrlStatus);
  EXPECT_EQ(fetch(server.url("/loop")).error, ErrorCode::kUrlRedirects);
  EXPECT_EQ(fetch(server.url("/big"), small).error, ErrorCode::kUrlTooLarge);
  EXPECT_EQ(fetch(server.url("/big-chunked"), small).error, ErrorCode::kUrlTooLarge);
  EXPECT_EQ(fetch("http://127.0.0.1:" + std::to_string(testing::closed_port()) + "/").error,
            ErrorCode::kUrlConnect);
  EXPECT_EQ(fetch("ftp://127.0.0.1/x.png").error, ErrorCode::kUrlInvalid);
  EXPECT_EQ(fetch("file:///etc/passwd").error, ErrorCode::kUrlInvalid);
}

TEST(UrlFetcherTest, TheAddressPolicySeesNamesAndEveryRedirect) {
  testing::HttpTestServer first, second;
  UrlOptions guarded;
  guarded.refuse_address = is_non_public_address;
  // A host name is judged by the address it resolves to.
  EXPECT_EQ(fetch(first.url("/image.png"), guarded).error, ErrorCode::kUrlForbidden);
  const std::string via_name = "http://localhost:" + first.url("/image.png").substr(17);
  EXPECT_EQ(fetch(via_name, guarded).error, ErrorCode::kUrlForbidden);
  // A redirect is judged again: refuse only the second server's port, reached by a redirect
  // from the first (loopback stands in for "public" here, the only network tests may use).
  const int second_port = std::stoi(second.url("").substr(17));
  UrlOptions only_second;
  only_second.refuse_address = [second_port](const sockaddr* a) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(a)->sin_port) == second_port;
  };
  EXPECT_FALSE(fetch(first.url("/image.png"), only_second).error);
  const std::string redirect = first.url("/redirect?to=" + second.url("/image.png"));
  EXPECT_EQ(fetch(redirect, only_second).error, ErrorCode::kUrlForbidden);
  EXPECT_FALSE(fetch(redirect).error);  // Without a policy the same redirect is followed.
}

TEST(UrlFetcherTest, StalledServersTimeOut) {
  testing::StallingPort stall;
  testing::HttpTestServer server;
  UrlOptions quick;
  quick.total_timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(fetch("http://127.0.0.1:" + std::to_string(stall.port()) + "/", quick).error,
            ErrorCode::kUrlTimeout);
  EXPECT_EQ(fetch(server.url("/slow"), quick).error, ErrorCode::kUrlTimeout);
  // Two 300 ms timeouts; the margin absorbs slow sanitizer builds, not a missing timeout (3 s).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// Name resolution is not exercised over the network (these machines may only reach loopback);
// the mapping of libcurl's result is checked instead.
TEST(UrlFetcherTest, ClassifiesCurlResults) {
  EXPECT_EQ(classify_curl_result(CURLE_COULDNT_RESOLVE_HOST, 0, false), ErrorCode::kUrlDns);
  EXPECT_EQ(classify_curl_result(CURLE_OK, 200, false), ErrorCode::kInternal);
  EXPECT_EQ(classify_curl_result(CURLE_OK, 503, false), ErrorCode::kUrlStatus);
  EXPECT_EQ(classify_curl_result(CURLE_WRITE_ERROR, 200, true), ErrorCode::kUrlTooLarge);
  EXPECT_EQ(classify_curl_result(CURLE_SSL_CONNECT_ERROR, 0, false), ErrorCode::kUrlFetch);
}

}  // namespace
}  // namespace clipembed::io
