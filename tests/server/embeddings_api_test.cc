#include "server/embeddings_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/base64.h"

namespace clipembed::server {
namespace {

ApiError error_of(const std::string& body, size_t max_items = 8) {
  try {
    parse_embeddings_request(body, max_items);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError{0, "", "none", "", 0};
}

TEST(EmbeddingsApiTest, ParsesStringsListsModelAndFormat) {
  const EmbeddingsRequest one = parse_embeddings_request(R"({"input": "AAAA"})", 8);
  EXPECT_EQ(one.inputs, std::vector<std::string>{"AAAA"});
  EXPECT_EQ(one.model, "");
  EXPECT_FALSE(one.base64_output);
  const EmbeddingsRequest many = parse_embeddings_request(
      R"({"model": "m", "input": ["a", "b"], "encoding_format": "base64"})", 8);
  EXPECT_EQ(many.inputs.size(), 2u);
  EXPECT_EQ(many.model, "m");
  EXPECT_TRUE(many.base64_output);
}

TEST(EmbeddingsApiTest, RejectsMalformedRequestsWithTheirStatus) {
  EXPECT_EQ(error_of("{").status, 400);
  EXPECT_EQ(error_of("[1]").status, 400);
  EXPECT_EQ(error_of(R"({"model": "m"})").code, "missing_input");
  EXPECT_EQ(error_of(R"({"input": []})").code, "missing_input");
  EXPECT_EQ(error_of(R"({"input": 5})").code, "invalid_input");
  const ApiError item = error_of(R"({"input": ["a", 7]})");
  EXPECT_EQ(item.status, 400);
  EXPECT_NE(item.message.find("input[1]"), std::string::npos);
  EXPECT_EQ(error_of(R"({"input": "a", "model": 3})").status, 400);
  EXPECT_EQ(error_of(R"({"input": "a", "encoding_format": "int8"})").status, 400);
  EXPECT_EQ(error_of(R"({"input": ["a", "b", "c"]})", 2).status, 413);
}

TEST(EmbeddingsApiTest, ResponseHasTheOpenAiShapeAndExactFloats) {
  const std::vector<std::vector<float>> vectors = {{0.1f, -2.5f, 3.0e-8f}, {1.0f / 3.0f}};
  const auto body = nlohmann::json::parse(embeddings_response("m", vectors, false));
  EXPECT_EQ(body["object"], "list");
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 0);
  EXPECT_EQ(body["data"][1]["index"], 1);
  EXPECT_EQ(body["data"][0]["embedding"].get<std::vector<float>>(), vectors[0]);
  EXPECT_EQ(body["data"][1]["embedding"].get<std::vector<float>>(), vectors[1]);
  EXPECT_NE(embeddings_response("m", vectors, false).find("[0.1, -2.5, 3e-08]"), std::string::npos)
      << "floats in their shortest round-trip form";
  const auto odd = nlohmann::json::parse(embeddings_response("a \"quoted\" name", {{NAN}}, false));
  EXPECT_TRUE(odd["data"][0]["embedding"][0].is_null());
  EXPECT_EQ(odd["model"], "a \"quoted\" name");
  const auto b64 = nlohmann::json::parse(embeddings_response("m", vectors, true));
  const auto bytes = io::decode_base64(b64["data"][0]["embedding"].get<std::string>(), 64);
  ASSERT_EQ(bytes.size(), 12u);
  std::vector<float> back(3);
  std::memcpy(back.data(), bytes.data(), 12);
  EXPECT_EQ(back, vectors[0]);
}

TEST(ApiErrorTest, EngineErrorsMapToStatuses) {
  auto status = [](ErrorCode c) { return api_error_for(Error(c, "x"), "input[2]").status; };
  EXPECT_EQ(status(ErrorCode::kImageDecode), 400);
  EXPECT_EQ(status(ErrorCode::kInvalidBase64), 400);
  EXPECT_EQ(status(ErrorCode::kUrlForbidden), 400);
  EXPECT_EQ(status(ErrorCode::kOverloaded), 429);
  EXPECT_EQ(status(ErrorCode::kDeadlineExceeded), 504);
  EXPECT_EQ(status(ErrorCode::kCancelled), 503);
  EXPECT_EQ(status(ErrorCode::kInternal), 500);
  const ApiError e = api_error_for(Error(ErrorCode::kOverloaded, "full"), "input[2]");
  EXPECT_EQ(e.message, "input[2]: full");
  EXPECT_EQ(e.code, "overloaded");
  EXPECT_GT(e.retry_after_seconds, 0);
  const auto body = nlohmann::json::parse(error_body(e));
  EXPECT_EQ(body["error"]["code"], "overloaded");
  EXPECT_EQ(body["error"]["type"], "rate_limit_error");
}

}  // namespace
}  // namespace clipembed::server
