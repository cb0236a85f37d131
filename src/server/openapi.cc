#include "server/openapi.h"

#include <nlohmann/json.hpp>

namespace clipembed::server {
namespace {

using nlohmann::json;

json string_or_strings(const std::string& what) {
  return {{"oneOf",
           json::array({{{"type", "string"}},
                        {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}}})},
          {"description", what}};
}

// An OpenAI-style list: {"object": "list", "data": [items...]} plus `more` properties.
json list_of(const json& items, json more = json::object()) {
  more["object"] = {{"const", "list"}};
  more["data"] = {{"type", "array"}, {"items", items}};
  return {{"type", "object"}, {"properties", more}};
}

// The precisions a model runs in (precision_name()).
const json& precision_schema() {
  static const json schema = {{"enum", {"fp32", "int8", "bf16"}}};
  return schema;
}

// The bodies, as README.md's "Requests" describes them.
json schemas() {
  const json image = {{"type", "string"},
                      {"description", "An image: an http(s) URL, a data:image/ URI or base64"}};
  const json error = {{"type", "object"},
                      {"required", {"error"}},
                      {"properties",
                       {{"error",
                         {{"type", "object"},
                          {"properties",
                           {{"code", {{"type", "string"}}},
                            {"message", {{"type", "string"}}},
                            {"type", {{"type", "string"}}}}}}}}}};
  return {
      {"EmbeddingsRequest",
       {{"type", "object"},
        {"required", {"input"}},
        {"properties",
         {{"model", {{"type", "string"}}},
          {"input", string_or_strings("Images (URL, data: URI, base64) or texts")},
          {"encoding_format", {{"enum", {"float", "base64"}}}},
          {"modality", {{"enum", {"image", "text"}}}},
          {"normalize", {{"type", "boolean"}}},
          {"dimensions", {{"type", "integer"}}}}}}},
      {"EmbeddingsResponse",
       list_of(
           {{"type", "object"},
            {"properties",
             {{"object", {{"const", "embedding"}}},
              {"index", {{"type", "integer"}}},
              {"embedding",
               {{"oneOf", json::array({{{"type", "array"}, {"items", {{"type", "number"}}}},
                                       {{"type", "string"}, {"contentEncoding", "base64"}}})}}}}}},
           {{"model", {{"type", "string"}}},
            {"usage",
             {{"type", "object"},
              {"properties",
               {{"prompt_tokens", {{"type", "integer"}}},
                {"total_tokens", {{"type", "integer"}}}}}}}})},
      {"ClassifyRequest",
       {{"type", "object"},
        {"required", {"labels"}},
        {"properties",
         {{"model", {{"type", "string"}}},
          {"image", string_or_strings("Images (or \"input\")")},
          {"input", string_or_strings("Images")},
          {"index", {{"type", "string"}, {"description", "With row: a served index"}}},
          {"row",
           {{"type", "integer"},
            {"minimum", 0},
            {"description", "Instead of images: the stored vector of an indexed image"}}},
          {"labels", {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}}},
          {"template", {{"type", "string"}}},
          {"top_k", {{"type", "integer"}, {"minimum", 1}}}}}}},
      {"ClassifyResponse",
       {{"type", "object"},
        {"properties",
         {{"model", {{"type", "string"}}},
          {"data",
           {{"type", "array"},
            {"items",
             {{"type", "object"},
              {"properties",
               {{"index", {{"type", "integer"}}},
                {"labels",
                 {{"type", "array"},
                  {"items",
                   {{"type", "object"},
                    {"properties",
                     {{"label", {{"type", "string"}}},
                      {"score", {{"type", "number"}}}}}}}}}}}}}}}}}}},
      {"SearchRequest",
       {{"type", "object"},
        {"required", {"query"}},
        {"properties",
         {{"index", {{"type", "string"}}},
          {"query",
           {{"oneOf",
             json::array(
                 {{{"type", "object"},
                   {"required", {"text"}},
                   {"properties", {{"text", {{"type", "string"}}}}}},
                  {{"type", "object"}, {"required", {"image"}}, {"properties", {{"image", image}}}},
                  {{"type", "object"},
                   {"required", {"row"}},
                   {"properties", {{"row", {{"type", "integer"}, {"minimum", 0}}}}}}})}}},
          {"k", {{"type", "integer"}, {"minimum", 1}}}}}}},
      {"SearchResponse",
       {{"type", "object"},
        {"properties",
         {{"index", {{"type", "string"}}},
          {"model", {{"type", "string"}}},
          {"data",
           {{"type", "array"},
            {"items",
             {{"type", "object"},
              {"properties",
               {{"rank", {{"type", "integer"}}},
                {"row", {{"type", "integer"}}},
                {"path", {{"type", "string"}}},
                {"score", {{"type", "number"}}}}}}}}}}}}},
      {"TokenizeRequest",
       {{"type", "object"},
        {"properties",
         {{"model", {{"type", "string"}}},
          {"input", string_or_strings("Texts")},
          {"inputs", string_or_strings("Texts (TEI's name)")}}}}},
      {"TokenizeResponse",
       {{"type", "object"},
        {"properties",
         {{"model", {{"type", "string"}}},
          {"data",
           {{"type", "array"},
            {"items",
             {{"type", "object"},
              {"properties",
               {{"index", {{"type", "integer"}}},
                {"ids", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
                {"tokens", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}}}}}}}},
      {"Model",
       {{"type", "object"},
        {"properties",
         {{"id", {{"type", "string"}}},
          {"object", {{"const", "model"}}},
          {"ready", {{"type", "boolean"}}},
          {"family", {{"type", "string"}}},
          {"format", {{"type", "string"}}},
          {"dimension", {{"type", "integer"}}},
          {"modalities", {{"type", "array"}, {"items", {{"enum", {"image", "text"}}}}}},
          {"zero_shot", {{"enum", {"softmax", "sigmoid"}}}}}}}},
      {"ModelList", list_of({{"$ref", "#/components/schemas/Model"}})},
      {"Info",
       {{"allOf", json::array({{{"$ref", "#/components/schemas/Model"}},
                               {{"type", "object"},
                                {"properties",
                                 {{"version", {{"type", "string"}}},
                                  {"precision", precision_schema()},
                                  {"max_items_per_request", {{"type", "integer"}}},
                                  {"max_body_bytes", {{"type", "integer"}}},
                                  {"models", {{"type", "integer"}}}}}}})}}},
      {"IndexList", list_of({{"type", "object"},
                             {"properties",
                              {{"name", {{"type", "string"}}},
                               {"model", {{"type", "string"}}},
                               {"count", {{"type", "integer"}}},
                               {"dimension", {{"type", "integer"}}},
                               {"precision", precision_schema()},
                               {"type", {{"enum", {"flat", "hnsw", "ivfpq"}}}}}}})},
      {"Status", {{"type", "object"}, {"properties", {{"status", {{"type", "string"}}}}}}},
      {"Error", error},
  };
}

json operation(const RouteDoc& r) {
  json op = {{"summary", std::string(r.summary)},
             {"operationId", std::string(r.method) + std::string(r.path)}};
  if (r.api) op["security"] = json::array({{{"bearer", json::array()}}});
  if (r.request == "image") {
    op["requestBody"] = {{"required", true},
                         {"content",
                          {{"application/octet-stream",
                            {{"schema", {{"type", "string"}, {"contentMediaType", "image/*"}}}}}}}};
  } else if (!r.request.empty()) {
    op["requestBody"] = {
        {"required", true},
        {"content",
         {{"application/json",
           {{"schema", {{"$ref", "#/components/schemas/" + std::string(r.request)}}}}}}}};
  }
  json ok = {{"description", "OK"}};
  if (r.response.empty()) {
    ok["content"] = {{"text/plain", {{"schema", {{"type", "string"}}}}}};
  } else if (r.response == "image") {
    ok["content"] = {
        {"image/webp", {{"schema", {{"type", "string"}, {"contentMediaType", "image/webp"}}}}}};
  } else if (r.response == "page") {
    ok["content"] = {{"text/html", {{"schema", {{"type", "string"}}}}}};
  } else {
    ok["content"] = {{"application/json",
                      {{"schema", {{"$ref", "#/components/schemas/" + std::string(r.response)}}}}}};
  }
  const json error = {
      {"description", "A typed error (README.md, \"Errors\")"},
      {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  op["responses"] = {{"200", ok}, {"default", error}};
  return op;
}

// A prefix route's template: "/v1/models/" -> "/v1/models/{id}".
std::string template_of(const RouteDoc& r) {
  std::string path(r.path);
  if (path.size() > 1 && path.back() == '/') path += r.tail;
  return path;
}

// The {name}s of a template.
std::vector<std::string> parameters_of(std::string_view path) {
  std::vector<std::string> names;
  for (size_t open = path.find('{'); open != std::string_view::npos; open = path.find('{', open)) {
    const size_t close = path.find('}', open);
    names.emplace_back(path.substr(open + 1, close - open - 1));
    open = close;
  }
  return names;
}

std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string openapi_document(const std::vector<RouteDoc>& routes, const std::string& version) {
  json paths = json::object();
  for (const RouteDoc& r : routes) {
    const std::string path = template_of(r);
    json op = operation(r);
    for (const std::string& name : parameters_of(path)) {
      op["parameters"].push_back(
          {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    }
    paths[path][std::string(r.method)] = op;
  }
  const json document = {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "clipembed"},
        {"version", version},
        {"description",
         "CLIP-family image and text embeddings (OpenAI- and TEI-compatible routes)"}}},
      {"paths", paths},
      {"components",
       {{"schemas", schemas()},
        {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
  return document.dump(1);
}

std::string docs_page(const std::vector<RouteDoc>& routes, const std::string& version) {
  std::string page =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>clipembed API</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;"
      "margin:2em auto;padding:0 1em}code{background:#f3f3f3;padding:0 .2em}"
      "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em;"
      "text-align:left;vertical-align:top}</style></head><body>\n<h1>clipembed " +
      escaped(version) +
      "</h1>\n<p>The routes of this server. The whole description, with every body's schema, is "
      "<a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p>\n<table><thead><tr>"
      "<th>method</th><th>path</th><th>what</th><th>body</th><th>answer</th><th>key</th></tr>"
      "</thead><tbody>\n";
  for (const RouteDoc& r : routes) {
    std::string method(r.method);
    for (char& c : method) c = static_cast<char>(c - 'a' + 'A');
    page += "<tr><td>" + method + "</td><td><code>" + escaped(template_of(r)) + "</code></td><td>" +
            escaped(r.summary) + "</td><td>" + escaped(r.request.empty() ? "" : r.request) +
            "</td><td>" + escaped(r.response.empty() ? "text" : r.response) + "</td><td>" +
            (r.api ? "yes" : "no") + "</td></tr>\n";
  }
  page += "</tbody></table>\n</body></html>\n";
  return page;
}

}  // namespace clipembed::server
