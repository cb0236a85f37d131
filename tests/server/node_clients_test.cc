// The real npm clients against a real server (tests/js/node_clients.mjs): the OpenAI Node SDK's
// models.list / models.retrieve / embeddings.create, and LangChain JS's embedDocuments of 600
// texts with its default batch of 512, some of them URL-, data URI- and base64-looking strings,
// served with --default-modality text. Every vector must equal `clipembed embed-text
// --normalize`'s bit for bit.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/fixtures.h"
#include "support/served_server.h"

namespace clipembed::server {
namespace {

using nlohmann::json;

std::string run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return status == 0 ? out : "";
}

// A shell word: the texts hold no single quote.
std::string quoted(const std::string& s) { return "'" + s + "'"; }

TEST(NodeClientsTest, OpenAiSdkAndLangChainJsGetTheCliVectors) {
  const std::string tools = std::string(CLIPEMBED_FIXTURES_DIR) + "/../js";
  if (std::system("node --version >/dev/null 2>&1") != 0 ||
      !std::filesystem::exists(tools + "/node_modules/@langchain/openai") ||
      !std::filesystem::exists(tools + "/node_modules/openai")) {
    GTEST_SKIP() << "node or the npm clients in tests/js/node_modules are missing (scripts/setup "
                    "installs them when npm is reachable)";
  }
  server::ServerOptions options = testing::served_options("tiny-clip");
  options.default_modality = service::Modality::kText;
  const testing::ServedServer s(options);
  const std::string base = "http://127.0.0.1:" + std::to_string(s.port()) + "/v1";
  const std::string out =
      run("node " + tools + "/node_clients.mjs " + base + " tiny-clip 600 2>&1");
  ASSERT_FALSE(out.empty()) << "the node clients failed";
  const json r = json::parse(out);

  EXPECT_EQ(r["listed"], json::array({"tiny-clip"}));
  EXPECT_EQ(r["retrieved"]["id"], "tiny-clip");
  EXPECT_EQ(r["retrieved"]["object"], "model");
  EXPECT_EQ(r["count"], 600);
  EXPECT_EQ(r["dimensions"], json::array({16}));
  EXPECT_GT(r["prompt_tokens"].get<int>(), 4 * 2);

  std::string arguments =
      "embed-text --normalize --model " + testing::fixture_path("models/tiny-clip");
  for (const auto& text : r["lookalikes"]) arguments += " " + quoted(text.get<std::string>());
  const std::string cli = run(std::string(CLIPEMBED_CLI_PATH) + " " + arguments + " 2>/dev/null");
  ASSERT_FALSE(cli.empty());
  size_t start = 0;
  for (size_t i = 0; i < r["lookalikes"].size(); ++i) {
    const size_t end = cli.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const json line = json::parse(cli.substr(start, end - start));
    start = end + 1;
    ASSERT_EQ(line["text"], r["lookalikes"][i]);
    const auto& expected = line["embedding"];
    for (const char* client : {"langchain", "sdk"}) {
      const auto& got = r[client][i];
      ASSERT_EQ(got.size(), expected.size()) << client;
      for (size_t d = 0; d < got.size(); ++d) {
        EXPECT_EQ(static_cast<float>(got[d].get<double>()),
                  static_cast<float>(expected[d].get<double>()))
            << client << " " << r["lookalikes"][i] << " [" << d << "]";
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::server
