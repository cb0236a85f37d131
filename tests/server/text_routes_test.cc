// What text clients need from the server: usage.prompt_tokens counted as the model sees texts,
// POST /tokenize (ids and vocabulary entries), and --default-modality text for clients that
// cannot send "modality" (LangChain, LlamaIndex): a text that looks like a URL stays a text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "clipembed/model.h"
#include "support/fixtures.h"
#include "support/raw_http.h"
#include "support/served_server.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
using testing::fixture_path;
using testing::http_request;

json post(const testing::ServedServer& s, const std::string& target, const json& body,
          int* status) {
  const auto r =
      s.ask(http_request("POST", target, body.dump(), {"Content-Type: application/json"}));
  if (!r) return json();
  *status = r->status;
  return json::parse(r->body);
}

TEST(TextRoutesTest, PromptTokensCountTheIdsOfTextsAndImagesCountNone) {
  const testing::ServedServer s(testing::served_options("tiny-clip"));
  const auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  const std::vector<std::string> texts = {"a photo of a cat", "A MAN riding a horse, at sunset!"};
  int status = 0;
  const json answer = post(s, "/v1/embeddings", {{"input", texts}, {"modality", "text"}}, &status);
  ASSERT_EQ(status, 200) << answer.dump();
  const size_t want = model->tokenize(texts[0]).size() + model->tokenize(texts[1]).size();
  EXPECT_EQ(answer["usage"]["prompt_tokens"], want);
  EXPECT_EQ(answer["usage"]["total_tokens"], want);
  const json image =
      post(s, "/v1/embeddings",
           {{"input", fixture_path("images/square.jpg")}, {"modality", "text"}}, &status);
  ASSERT_EQ(status, 200);
  EXPECT_GT(image["usage"]["prompt_tokens"].get<int>(), 2);  // A path sent as text is a text.
}

TEST(TextRoutesTest, TokenizeGivesTheModelsIdsAndVocabularyEntries) {
  const testing::ServedServer s(testing::served_options("tiny-clip"));
  const auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  int status = 0;
  const json answer = post(s, "/tokenize", {{"input", {"a photo of a cat", "hello"}}}, &status);
  ASSERT_EQ(status, 200) << answer.dump();
  ASSERT_EQ(answer["data"].size(), 2u);
  const std::vector<int32_t> ids = model->tokenize("a photo of a cat");
  EXPECT_EQ(answer["data"][0]["ids"].get<std::vector<int32_t>>(), ids);
  const auto tokens = answer["data"][0]["tokens"].get<std::vector<std::string>>();
  ASSERT_EQ(tokens.size(), ids.size());
  EXPECT_EQ(tokens.front(), "<|startoftext|>");
  EXPECT_EQ(tokens[1], "a</w>");
  EXPECT_EQ(tokens.back(), "<|endoftext|>");
  // TEI's field name, and the errors of a text.
  EXPECT_EQ(post(s, "/tokenize", {{"inputs", "a cat"}}, &status)["data"].size(), 1u);
  EXPECT_EQ(status, 200);
  const json bad = post(s, "/tokenize", {{"input", json::array()}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad["error"]["code"], "missing_input") << bad.dump();
}

TEST(TextRoutesTest, TokenizeOfAVisionOnlyModelIsATypedError) {
  const testing::ServedServer s(testing::served_options("tiny"));
  int status = 0;
  const json answer = post(s, "/tokenize", {{"input", "a cat"}}, &status);
  EXPECT_EQ(status, 400) << answer.dump();
  EXPECT_EQ(answer["error"]["code"], "unsupported_modality") << answer.dump();
}

TEST(TextRoutesTest, DefaultModalityTextKeepsUrlLikeTextsAsTexts) {
  ServerOptions o = testing::served_options("tiny-clip");
  o.default_modality = service::Modality::kText;
  const testing::ServedServer s(o);
  const auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  const std::string url = "http://127.0.0.1:9/cat.jpg";  // Never fetched: it is a text here.
  int status = 0;
  const json answer = post(s, "/v1/embeddings", {{"input", url}, {"normalize", false}}, &status);
  ASSERT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["data"][0]["embedding"].get<std::vector<float>>(), model->embed_text(url));
  // A request's own "modality" still decides.
  const json image = post(s, "/v1/embeddings", {{"input", url}, {"modality", "image"}}, &status);
  EXPECT_NE(status, 200) << image.dump();
}

}  // namespace
}  // namespace clipembed::server
