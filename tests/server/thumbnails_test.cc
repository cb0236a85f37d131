// The search page's routes without a browser: the page and its files (with their
// Content-Security-Policy), /v1/indexes, thumbnails by row only (sizes, refusals, files gone or
// changed since indexing, the decode budget, the API key), and the searches and labels by an
// indexed row that "more like this" and the page's labels use.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "clipembed/image.h"
#include "io/base64.h"
#include "io/file.h"
#include "support/cli_process.h"
#include "support/fixtures.h"
#include "support/raw_http.h"
#include "support/served_server.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
using testing::http_request;
namespace fs = std::filesystem;

// An index (tiny-clip) of three fixture images copied into a directory of the test's own, so
// that they can be changed and removed.
class ThumbnailsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_path("thumbnails-test");
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/images");
    for (const char* name : {"hd.jpg", "tall.png", "palette.png"}) {
      fs::copy_file(testing::fixture_path(std::string("images/") + name), dir_ + "/images/" + name);
    }
    // Files older than the index, as they are when a collection is indexed.
    for (const auto& f : fs::directory_iterator(dir_ + "/images")) {
      fs::last_write_time(f.path(), fs::file_time_type::clock::now() - std::chrono::hours(1));
    }
    const auto r = testing::run_cli({"index", "build", "-q", "--model",
                                     testing::fixture_path("models/tiny-clip"), "--output",
                                     dir_ + "/idx", dir_ + "/images"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void TearDown() override { fs::remove_all(dir_); }

  ServerOptions options() const {
    ServerOptions o = testing::served_options("tiny-clip");
    o.indexes = {"photos=" + dir_ + "/idx"};
    return o;
  }
  // The rows of the index by file name.
  static std::map<std::string, int> rows(const testing::ServedServer& s) {
    const auto r =
        s.ask(http_request("POST", "/v1/search", R"({"query": {"text": "x"}, "k": 10})"));
    EXPECT_EQ(r->status, 200) << r->body;
    std::map<std::string, int> by_name;
    const json answer = json::parse(r->body);
    for (const auto& hit : answer["data"]) {
      by_name[fs::path(hit["path"].get<std::string>()).filename()] = hit["row"];
    }
    return by_name;
  }

  std::string dir_;
};

TEST_F(ThumbnailsTest, AThumbnailIsASmallWebpOfTheRowsFile) {
  const testing::ServedServer s(options());
  const auto row = rows(s);
  ASSERT_EQ(row.size(), 3u);
  const std::string hd = "/v1/thumbnails/photos/" + std::to_string(row.at("hd.jpg"));
  const auto r = s.ask(http_request("GET", hd));
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "image/webp");
  EXPECT_EQ(r->header("cache-control"), "private, max-age=3600");
  const Image original = read_image_file(testing::fixture_path("images/hd.jpg"));
  const Image thumb = decode_image(std::vector<uint8_t>(r->body.begin(), r->body.end()));
  EXPECT_EQ(std::max(thumb.width, thumb.height), 256);
  EXPECT_EQ(thumb.width, original.width * 256 / std::max(original.width, original.height));
  const auto small = s.ask(http_request("GET", hd + "?size=64"));
  ASSERT_EQ(small->status, 200);
  const Image small_thumb =
      decode_image(std::vector<uint8_t>(small->body.begin(), small->body.end()));
  EXPECT_EQ(std::max(small_thumb.width, small_thumb.height), 64);
  // Served again from the cache, the same bytes.
  EXPECT_EQ(s.ask(http_request("GET", hd))->body, r->body);
  for (const char* size : {"?size=8", "?size=2000", "?size=abc", "?size=64px", "?size="}) {
    const auto bad = s.ask(http_request("GET", hd + size));
    EXPECT_EQ(bad->status, std::string(size) == "?size=" ? 200 : 400) << size;
  }
}

TEST_F(ThumbnailsTest, OnlyRowsOfAServedIndexHaveThumbnails) {
  const testing::ServedServer s(options());
  for (const char* target :
       {"/v1/thumbnails/photos/3", "/v1/thumbnails/photos/-1", "/v1/thumbnails/photos/+1",
        "/v1/thumbnails/photos/1.0", "/v1/thumbnails/photos/%2E%2E%2Fidx",
        "/v1/thumbnails/photos/..%2F..%2Fetc%2Fpasswd", "/v1/thumbnails/photos/%2Fetc%2Fpasswd",
        "/v1/thumbnails/photos/", "/v1/thumbnails/other/0", "/v1/thumbnails/0",
        "/v1/thumbnails/photos/99999999999999999999999", "/v1/thumbnails/photos/0%00"}) {
    const auto r = s.ask(http_request("GET", target));
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 404) << target << " " << r->body;
  }
}

TEST_F(ThumbnailsTest, FilesGoneOrChangedSinceIndexingAre410) {
  const testing::ServedServer s(options());
  const auto row = rows(s);
  fs::remove(dir_ + "/images/tall.png");
  fs::last_write_time(dir_ + "/images/palette.png",
                      fs::file_time_type::clock::now() + std::chrono::hours(1));
  const auto gone =
      s.ask(http_request("GET", "/v1/thumbnails/photos/" + std::to_string(row.at("tall.png"))));
  EXPECT_EQ(gone->status, 410);
  EXPECT_NE(gone->body.find("file_gone"), std::string::npos);
  const auto changed =
      s.ask(http_request("GET", "/v1/thumbnails/photos/" + std::to_string(row.at("palette.png"))));
  EXPECT_EQ(changed->status, 410);
  EXPECT_NE(changed->body.find("modified after it was indexed"), std::string::npos);
}

TEST_F(ThumbnailsTest, ThumbnailsDecodeWithinTheDecodeBudgetAndNeedTheKey) {
  ServerOptions o = options();
  o.pool.max_decode_bytes = 2u << 20;  // Less than hd.jpg needs to decode, more than palette.png.
  o.api_key = "secret";
  const testing::ServedServer s(o);
  const std::string target = "/v1/thumbnails/photos/0";
  EXPECT_EQ(s.ask(http_request("GET", target))->status, 401);
  const std::vector<std::string> key = {"Authorization: Bearer secret"};
  std::map<std::string, int> row;
  const auto found =
      s.ask(http_request("POST", "/v1/search", R"({"query": {"text": "x"}, "k": 10})", key));
  const json answer = json::parse(found->body);
  for (const auto& hit : answer["data"]) {
    row[fs::path(hit["path"].get<std::string>()).filename()] = hit["row"];
  }
  const auto big = s.ask(
      http_request("GET", "/v1/thumbnails/photos/" + std::to_string(row.at("hd.jpg")), "", key));
  EXPECT_EQ(big->status, 413) << big->body;
  EXPECT_NE(big->body.find("image_too_large"), std::string::npos);
  const auto small = s.ask(http_request(
      "GET", "/v1/thumbnails/photos/" + std::to_string(row.at("palette.png")), "", key));
  EXPECT_EQ(small->status, 200) << small->body;
  // The page itself holds no data: it loads without the key, and asks for it.
  EXPECT_EQ(s.ask(http_request("GET", "/"))->status, 200);
}

TEST_F(ThumbnailsTest, ThePageAndItsFilesAreServedWithAStrictPolicy) {
  const testing::ServedServer s(options());
  for (const auto& [target, type] : std::vector<std::pair<std::string, std::string>>{
           {"/", "text/html; charset=utf-8"},
           {"/ui", "text/html; charset=utf-8"},
           {"/ui/search.js", "text/javascript; charset=utf-8"},
           {"/ui/search.css", "text/css; charset=utf-8"}}) {
    const auto r = s.ask(http_request("GET", target));
    ASSERT_EQ(r->status, 200) << target;
    EXPECT_EQ(r->header("content-type"), type);
    const std::string policy = r->header("content-security-policy");
    EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
    EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << policy;
    EXPECT_EQ(policy.find("http"), std::string::npos) << policy;
  }
  const auto page = s.ask(http_request("GET", "/"))->body;
  EXPECT_EQ(page.find("<script>"), std::string::npos);  // No inline script.
  EXPECT_EQ(page.find("style="), std::string::npos);    // No inline style.
  EXPECT_EQ(s.ask(http_request("GET", "/ui/other.js"))->status, 404);
  const auto indexes = json::parse(s.ask(http_request("GET", "/v1/indexes"))->body);
  EXPECT_EQ(indexes["data"][0]["name"], "photos");
  EXPECT_EQ(indexes["data"][0]["count"], 3);
  EXPECT_EQ(indexes["data"][0]["model"], "tiny-clip");

  ServerOptions off = options();
  off.ui = false;
  EXPECT_EQ(testing::ServedServer(off).ask(http_request("GET", "/"))->status, 404);
  EXPECT_EQ(testing::ServedServer(testing::served_options("tiny-clip"))
                .ask(http_request("GET", "/ui/search.js"))
                ->status,
            404);
}

TEST_F(ThumbnailsTest, SearchAndLabelsByAnIndexedRow) {
  const testing::ServedServer s(options());
  const auto row = rows(s);
  const int hd = row.at("hd.jpg");
  const auto more = json::parse(
      s.ask(http_request("POST", "/v1/search",
                         R"({"query": {"row": )" + std::to_string(hd) + R"(}, "k": 3})"))
          ->body);
  EXPECT_EQ(more["data"][0]["row"], hd);
  EXPECT_NEAR(more["data"][0]["score"].get<double>(), 1.0, 1e-6);
  EXPECT_EQ(more["data"].size(), 3u);
  const auto past = s.ask(http_request("POST", "/v1/search", R"({"query": {"row": 3}})"));
  EXPECT_EQ(past->status, 404);
  EXPECT_NE(past->body.find("row_not_found"), std::string::npos);
  EXPECT_EQ(s.ask(http_request("POST", "/v1/search", R"({"query": {"row": -1}})"))->status, 400);
  EXPECT_EQ(
      s.ask(http_request("POST", "/v1/search", R"({"query": {"row": 1, "text": "a"}})"))->status,
      400);

  // Labels of the stored vector equal the labels of the file itself.
  const auto by_row =
      json::parse(s.ask(http_request("POST", "/v1/classify",
                                     R"({"index": "photos", "row": )" + std::to_string(hd) +
                                         R"(, "labels": ["cat", "dog", "car"]})"))
                      ->body);
  const auto file = io::read_file(testing::fixture_path("images/hd.jpg"));
  const std::string bytes = io::encode_base64(file.data(), file.size());
  const auto by_image = json::parse(
      s.ask(http_request("POST", "/v1/classify",
                         R"({"image": ")" + bytes + R"(", "labels": ["cat", "dog", "car"]})"))
          ->body);
  ASSERT_EQ(by_row["data"][0]["labels"].size(), 3u) << by_row;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(by_row["data"][0]["labels"][i]["label"], by_image["data"][0]["labels"][i]["label"]);
    EXPECT_NEAR(by_row["data"][0]["labels"][i]["score"].get<double>(),
                by_image["data"][0]["labels"][i]["score"].get<double>(), 1e-6);
  }
  EXPECT_EQ(s.ask(http_request("POST", "/v1/classify",
                               R"({"index": "photos", "row": 7, "labels": ["cat"]})"))
                ->status,
            404);
}

}  // namespace
}  // namespace clipembed::server
