#include "server/access_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace clipembed::server {
namespace {

RequestRecord record() {
  RequestRecord r;
  r.request_id = "abc123";
  r.method = "POST";
  r.route = "/v1/embeddings";
  r.model = "clip";
  r.status = 400;
  r.seconds = 0.0123;
  r.items = 2;
  r.bytes_in = 1532;
  r.bytes_out = 120;
  r.error_code = "image_decode";
  return r;
}

TEST(AccessLogTest, TextLinesHoldWhatAnOperatorNeeds) {
  const std::string line = access_log_line(record(), LogFormat::kText);
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z abc123 POST /v1/embeddings 400 )"
                       R"(12\.3ms items=2 in=1532B out=120B model=clip error=image_decode)")))
      << line;
}

TEST(AccessLogTest, JsonLinesParse) {
  RequestRecord r = record();
  r.model = "a \"quoted\" name";
  const auto j = nlohmann::json::parse(access_log_line(r, LogFormat::kJson));
  EXPECT_EQ(j["request_id"], "abc123");
  EXPECT_EQ(j["status"], 400);
  EXPECT_EQ(j["duration_ms"], 12.3);
  EXPECT_EQ(j["items"], 2);
  EXPECT_EQ(j["bytes_in"], 1532);
  EXPECT_EQ(j["model"], "a \"quoted\" name");
  EXPECT_EQ(j["error"], "image_decode");
  EXPECT_TRUE(j["time"].is_string());
}

}  // namespace
}  // namespace clipembed::server
