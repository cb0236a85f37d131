// GET /openapi.json describes every route of the table (an OpenAPI 3.1 document that the npm
// validator in tests/js accepts) and GET /docs shows them as a page that runs nothing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "server/api_handler.h"
#include "support/fixtures.h"
#include "support/raw_http.h"
#include "support/served_server.h"

namespace clipembed::server {
namespace {

using nlohmann::json;
using testing::http_request;

TEST(OpenApiTest, TheDocumentNamesEveryRouteAndValidates) {
  const testing::ServedServer s(testing::served_options("tiny-clip"));
  const auto r = s.ask(http_request("GET", "/openapi.json"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json document = json::parse(r->body);
  EXPECT_EQ(document["openapi"], "3.1.0");
  const std::vector<RouteDoc> routes = ApiHandler::route_docs();
  ASSERT_GE(routes.size(), 23u);
  for (const RouteDoc& route : routes) {
    std::string path(route.path);
    if (path.size() > 1 && path.back() == '/') path += route.tail;
    EXPECT_TRUE(document["paths"].contains(path)) << path;
    EXPECT_TRUE(document["paths"][path].contains(std::string(route.method))) << path;
  }
  EXPECT_EQ(document["paths"]["/v1/embeddings"]["post"]["requestBody"]["content"]
                    ["application/json"]["schema"]["$ref"],
            "#/components/schemas/EmbeddingsRequest");
  // The OpenAPI 3.1 schema validator from npm (scripts/setup installs it into tests/js).
  const std::string tools = std::string(CLIPEMBED_FIXTURES_DIR) + "/../js";
  if (std::system("node --version >/dev/null 2>&1") != 0 ||
      !std::filesystem::exists(tools + "/node_modules/@seriousme/openapi-schema-validator")) {
    GTEST_SKIP() << "node or tests/js/node_modules missing (scripts/setup installs them): the "
                    "document was not validated";
  }
  const std::string file = testing::temp_path("openapi.json");
  std::ofstream(file) << r->body;
  const std::string command = "node " + tools + "/validate_openapi.mjs " + file + " 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << "the OpenAPI validator refused the document";
  std::filesystem::remove(file);
}

TEST(OpenApiTest, DocsIsAPageWithEveryRouteAndNoScript) {
  const testing::ServedServer s(testing::served_options("tiny-clip"));
  const auto r = s.ask(http_request("GET", "/docs"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r->header("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(r->body.find("<script"), std::string::npos);
  for (const RouteDoc& route : ApiHandler::route_docs()) {
    EXPECT_NE(r->body.find(std::string(route.path)), std::string::npos) << route.path;
  }
}

}  // namespace
}  // namespace clipembed::server
