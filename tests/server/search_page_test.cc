// The search page in a real browser (tests/js/search_page.mjs: Debian's chromium driven by
// puppeteer-core) over an index of the 48 shapes renders (examples/shapes) made with the small
// trained CLIP: the grid shows what `clipembed search` ranks, "more like this" what a search by
// that image ranks, a dropped image finds itself, labels come from /v1/classify, thumbnails are
// served by row only, and the page passes the accessibility checks. The screenshot is kept in
// the build directory (search-page.png; docs/images has a copy for the README).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_process.h"
#include "support/fixtures.h"
#include "support/served_server.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kRoot = std::string(CLIPEMBED_FIXTURES_DIR) + "/../..";

// The paths `clipembed search` ranks for a query, best first.
std::vector<std::string> cli_ranking(const std::string& index, const std::string& flag,
                                     const std::string& query, int k) {
  const auto r = testing::run_cli({"search", index, flag, query, "-k", std::to_string(k)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> paths;
  size_t start = 0;
  for (size_t end; (end = r.out.find('\n', start)) != std::string::npos; start = end + 1) {
    paths.push_back(json::parse(r.out.substr(start, end - start))["path"]);
  }
  return paths;
}

TEST(SearchPageTest, ABrowserSearchesByTextImageAndRowAsTheCliDoes) {
  const std::string tools = kRoot + "/tests/js";
  if (std::system("node --version >/dev/null 2>&1") != 0 ||
      !fs::exists(tools + "/node_modules/puppeteer-core") || !fs::exists("/usr/bin/chromium")) {
    GTEST_SKIP() << "node, puppeteer-core (tests/js) or /usr/bin/chromium is missing; "
                    "scripts/setup installs them when npm and Debian's archive are reachable";
  }
  const std::string model = kRoot + "/examples/models/shapes-clip";
  const std::string index = testing::temp_path("search-page-index");
  fs::remove_all(index);
  const auto built = testing::run_cli(
      {"index", "build", "-q", "--model", model, "--output", index, kRoot + "/examples/shapes"});
  ASSERT_EQ(built.exit_code, 0) << built.err;

  server::ServerOptions options = testing::served_options(model);
  options.indexes = {"shapes=" + index};
  const testing::ServedServer s(options);
  const std::string base = "http://127.0.0.1:" + std::to_string(s.port());
  const std::string drop = kRoot + "/examples/shapes/blue-star.jpg";
  const std::string screenshot = std::string(CLIPEMBED_BUILD_DIR) + "/search-page.png";
  const auto run = testing::run_process(
      "/usr/bin/env",
      {"node", tools + "/search_page.mjs", base, "shapes", "a red circle", drop, screenshot});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json page = json::parse(run.out);

  EXPECT_NE(page["about"].get<std::string>().find("48 images"), std::string::npos) << page["about"];
  const auto text = cli_ranking(index, "--text", "a red circle", 24);
  EXPECT_EQ(page["text"], json(text));
  EXPECT_EQ(page["text_status"], "24 results");
  EXPECT_NE(text[0].find("red-circle"), std::string::npos);
  EXPECT_EQ(page["labels"].size(), 3u);
  EXPECT_EQ(page["labels"][0].get<std::string>().rfind("red circle ", 0), 0u) << page["labels"];
  EXPECT_EQ(page["more"], json(cli_ranking(index, "--image", text[0], 24)));
  const auto dropped = cli_ranking(index, "--image", drop, 24);
  EXPECT_EQ(page["drop"], json(dropped));
  EXPECT_EQ(dropped[0], drop);

  EXPECT_EQ(page["unnamed_controls"], json::array());
  EXPECT_EQ(page["focus_order"][0], "query");
  EXPECT_EQ(page["focus_order"][1], "k");
  EXPECT_EQ(page["focus_order"][2], "file");
  EXPECT_EQ(page["focus_order"][3], "labels");
  EXPECT_EQ(page["focus_order"][4].get<std::string>().rfind("More like ", 0), 0u)
      << page["focus_order"];
  EXPECT_EQ(page["low_contrast"], json::array());
  EXPECT_FALSE(page["phone_overflow"].get<bool>());
  EXPECT_EQ(page["problems"], json::array());
  EXPECT_TRUE(fs::file_size(screenshot) > 10000);

  EXPECT_EQ(page["thumbnail"], "200 image/webp");
  for (const auto& [target, status] : page["refused"].items()) {
    EXPECT_EQ(status, "404") << target;
  }
  fs::remove_all(index);
}

}  // namespace
}  // namespace clipembed::server
