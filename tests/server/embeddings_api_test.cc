#include "server/embeddings_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/base64.h"
#include "io/file.h"
#include "support/fixtures.h"

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

TEST(EmbeddingsApiTest, ParsesModalityNormalizeAndDimensions) {
  const EmbeddingsRequest r = parse_embeddings_request(
      R"({"input": ["a"], "modality": "text", "normalize": false, "dimensions": 512,
          "user": "someone"})",
      8);
  EXPECT_EQ(r.modality, Modality::kText);
  EXPECT_EQ(r.normalize, false);
  EXPECT_EQ(r.dimensions, 512);
  EXPECT_EQ(parse_embeddings_request(R"({"input": "a"})", 8).modality, Modality::kAuto);
  EXPECT_FALSE(parse_embeddings_request(R"({"input": "a"})", 8).normalize.has_value());
  EXPECT_EQ(error_of(R"({"input": "a", "modality": "audio"})").code, "unsupported_modality");
  EXPECT_EQ(error_of(R"({"input": "a", "normalize": 1})").status, 400);
  EXPECT_EQ(error_of(R"({"input": "a", "dimensions": 1.5})").code, "unsupported_dimensions");
  // Token-id inputs (OpenAI allows them for text models) are refused by name.
  EXPECT_NE(error_of(R"({"input": [[1, 2]]})").message.find("nests lists"), std::string::npos);
  EXPECT_NE(error_of(R"({"input": [1, 2]})").message.find("token-id"), std::string::npos);
}

TEST(EmbeddingsApiTest, ParsesClassifyRequests) {
  const ClassifyRequest r = parse_classify_request(
      R"({"model": "m", "image": "AAAA", "labels": ["cat", "dog"], "template": "{}", "top_k": 1})",
      8);
  EXPECT_EQ(r.images, std::vector<std::string>{"AAAA"});
  EXPECT_EQ(r.labels, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(r.label_template, "{}");
  EXPECT_EQ(r.top_k, 1u);
  // Without a template, the model's default applies (service/zero_shot.h).
  EXPECT_EQ(parse_classify_request(R"({"image": ["x"], "labels": ["a"]})", 8).label_template, "");
  ApiError e{};
  try {
    parse_classify_request(R"({"image": "x", "labels": []})", 8);
  } catch (const ApiError& caught) {
    e = caught;
  }
  EXPECT_EQ(e.code, "missing_labels");
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

TEST(EmbeddingsApiTest, ClassifyResponseShape) {
  const auto body = nlohmann::json::parse(
      classify_response("m", {{{"cat", 0.75f}, {"dog", 0.25f}}, {{"dog", 1.0f}}}));
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["data"][0]["labels"][0]["label"], "cat");
  EXPECT_EQ(body["data"][0]["labels"][1]["score"], 0.25);
  EXPECT_EQ(body["data"][1]["index"], 1);
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
