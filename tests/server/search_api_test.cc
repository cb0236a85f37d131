// POST /v1/search on a real server with an index (clipembed serve --index NAME=DIR): the same
// ranking as the library, every input form of the query, limits and typed errors.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "clipembed/index.h"
#include "clipembed/model.h"
#include "io/base64.h"
#include "io/file.h"
#include "server/http_server.h"
#include "support/fixtures.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
using testing::fixture_path;

std::string build_index() {
  const std::string dir = testing::temp_path("search-api.idx");
  std::filesystem::remove_all(dir);
  std::vector<ImageInput> inputs;
  for (const std::string& name : testing::valid_image_names()) {
    inputs.push_back(ImageInput::file(fixture_path("images/" + name)));
  }
  const auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  EmbeddingIndex::add(dir, *model, fixture_path("models/tiny-clip"), inputs);
  return dir;
}

ServerOptions search_options(const std::string& index) {
  ServerOptions o;
  o.port = 0;
  o.models = {"clip=" + fixture_path("models/tiny-clip"), fixture_path("models/tiny")};
  o.indexes = {"photos=" + index};
  o.max_search_k = 50;
  o.log_format = LogFormat::kOff;
  return o;
}

class SearchApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { index_ = new std::string(build_index()); }
  static void TearDownTestSuite() { delete index_; }
  static std::string* index_;
};
std::string* SearchApiTest::index_ = nullptr;

json post(int port, const std::string& body, int* status) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60);
  auto r = c.Post("/v1/search", body, "application/json");
  *status = r ? r->status : -1;
  return r ? json::parse(r->body, nullptr, false) : json();
}

TEST_F(SearchApiTest, RanksAsTheLibraryDoesForTextAndImageQueries) {
  EmbeddingServer server(search_options(*index_));
  const int port = server.start();
  for (int i = 0; i < 3000 && !server.ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto index = EmbeddingIndex::open(*index_);
  const auto model = ClipModel::load(fixture_path("models/tiny-clip"));
  int status = 0;
  const json text =
      post(port, R"({"index": "photos", "query": {"text": "a photo of a cat"}, "k": 5})", &status);
  ASSERT_EQ(status, 200) << text.dump();
  const auto expected = index->search(model->embed_text("a photo of a cat"), 5)[0];
  ASSERT_EQ(text["data"].size(), 5u);
  EXPECT_EQ(text["model"], "clip");
  for (size_t r = 0; r < 5; ++r) {
    EXPECT_EQ(text["data"][r]["rank"], r + 1);
    EXPECT_EQ(text["data"][r]["path"], expected[r].path);
    EXPECT_FLOAT_EQ(text["data"][r]["score"].get<float>(), expected[r].score);
  }
  const auto bytes = io::read_file(fixture_path("images/square.jpg"));
  const std::string b64 = io::encode_base64(bytes.data(), bytes.size());
  for (const std::string& image : {b64, "data:image/jpeg;base64," + b64}) {
    // The index is the only one, so a request may leave it out.
    const json found = post(port, json{{"query", {{"image", image}}}, {"k", 1}}.dump(), &status);
    ASSERT_EQ(status, 200) << found.dump();
    EXPECT_EQ(found["data"][0]["path"], fixture_path("images/square.jpg"));
    EXPECT_NEAR(found["data"][0]["score"].get<double>(), 1.0, 1e-6);
  }
}

TEST_F(SearchApiTest, BadQueriesAreTypedErrors) {
  EmbeddingServer server(search_options(*index_));
  const int port = server.start();
  for (int i = 0; i < 3000 && !server.ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::vector<std::tuple<std::string, int, std::string>> cases = {
      {R"({"index": "nope", "query": {"text": "a"}})", 404, "index_not_found"},
      {R"({"query": {"text": "a", "image": "b"}})", 400, "invalid_query"},
      {R"({"query": {}})", 400, "invalid_query"},
      {R"({"query": {"text": "a"}, "k": 51})", 400, "invalid_k"},
      {R"({"query": {"text": "a"}, "k": 0})", 400, "invalid_k"},
      {R"({"query": {"text": ["a"]}})", 400, "invalid_json"},
      {R"({"query": {"deep": {"text": "a"}}})", 400, "invalid_json"},
      {R"({"query": {"image": "not an image"}})", 400, "not_an_image"},
      {R"({"query": {"image": "data:image/png;base64,!!"}})", 400, "invalid_base64"},
      {R"({"query": {"text": "a"}, "extra": 1})", 400, "invalid_request"},
  };
  for (const auto& [body, code, name] : cases) {
    int status = 0;
    const json answer = post(port, body, &status);
    EXPECT_EQ(status, code) << body << " " << answer.dump();
    EXPECT_EQ(answer["error"]["code"], name) << body;
  }
}

TEST_F(SearchApiTest, AnIndexWhoseModelIsNotServedStopsTheServerFromStarting) {
  ServerOptions o = search_options(*index_);
  o.models = {fixture_path("models/tiny")};
  try {
    EmbeddingServer server(o);
    ADD_FAILURE() << "started";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIndexInvalid);
    EXPECT_NE(std::string(e.what()).find("add --model"), std::string::npos) << e.what();
  }
  o = search_options(testing::temp_path("no-such.idx"));
  EXPECT_THROW(EmbeddingServer server(o), Error);
}

}  // namespace
}  // namespace clipembed::server
