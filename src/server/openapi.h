// Internal: the OpenAPI 3.1 document of the server's routes (GET /openapi.json) and the page
// that shows it (GET /docs), both made from the route table's rows.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace clipembed::server {

// What a route table row says of itself for the document.
struct RouteDoc {
  std::string_view path;           // A prefix route's path ends in '/', and `tail` follows it.
  std::string_view method;         // "get" or "post".
  bool api = false;                // Needs the API key (when one is set).
  std::string_view summary;        // One sentence.
  std::string_view request;        // The request body's schema in components ("" for none; "image"
                                   // for a raw image body).
  std::string_view response;       // The answer's schema in components ("" for plain text, "image"
                                   // for a WebP, "page" for HTML).
  std::string_view tail = "{id}";  // A prefix route's parameters, e.g. "{index}/{row}".
};

// The document as JSON text.
std::string openapi_document(const std::vector<RouteDoc>& routes, const std::string& version);

// A self-contained HTML page listing the operations (no script, no remote resource).
std::string docs_page(const std::vector<RouteDoc>& routes, const std::string& version);

}  // namespace clipembed::server
