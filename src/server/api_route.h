// Internal: a row of the API's route table (api_routes.cc), read by the dispatch
// (api_handler.cc) and by /openapi.json and /docs.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <memory>
#include <string_view>

#include "server/api_handler.h"

namespace clipembed::server {

// One row a route: its path, method, whether it is an API route (needs the key, is refused while
// draining, counts against max_in_flight) and its handler. GET routes answer HEAD too.
struct ApiHandler::Route {
  std::string_view path;
  http::verb method;
  bool api;
  void (ApiHandler::*handler)(const std::shared_ptr<Call>&);
  bool prefix = false;  // The path is a prefix: the rest of the target is the handler's.
  // For /openapi.json and /docs: one sentence, and the request's and answer's schemas.
  std::string_view summary, request, response;
  std::string_view tail = "{id}";  // A prefix route's parameters, as /openapi.json names them.

  bool matches(std::string_view target_path) const {
    return prefix ? target_path.size() > path.size() && target_path.starts_with(path)
                  : target_path == path;
  }
};

}  // namespace clipembed::server
