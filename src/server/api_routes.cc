// The API's route table: each route's path, method, handler and what /openapi.json and /docs say
// of it; and those two routes.
#include "clipembed/version.h"
#include "server/api_route.h"
#include "server/openapi.h"

namespace clipembed::server {

const std::vector<ApiHandler::Route>& ApiHandler::routes() {
  static const std::vector<Route> table = {
      {"/v1/embeddings", http::verb::post, true, &ApiHandler::embeddings, false,
       "Embed images and texts (OpenAI's embeddings API)", "EmbeddingsRequest",
       "EmbeddingsResponse"},
      {"/embeddings", http::verb::post, true, &ApiHandler::embeddings, false,
       "The same, at infinity's path", "EmbeddingsRequest", "EmbeddingsResponse"},
      {"/v1/classify", http::verb::post, true, &ApiHandler::classify, false,
       "Zero-shot labels of images", "ClassifyRequest", "ClassifyResponse"},
      {"/classify", http::verb::post, true, &ApiHandler::classify, false, "The same, without /v1",
       "ClassifyRequest", "ClassifyResponse"},
      {"/v1/search", http::verb::post, true, &ApiHandler::search, false,
       "Rank a served index's images by a text or an image", "SearchRequest", "SearchResponse"},
      {"/embed", http::verb::post, true, &ApiHandler::raw_image, false,
       "Embed one image sent as the raw body (?model=&normalize=&encoding_format=)", "image",
       "EmbeddingsResponse"},
      {"/tokenize", http::verb::post, true, &ApiHandler::tokenize, false,
       "Token ids and vocabulary entries of texts", "TokenizeRequest", "TokenizeResponse"},
      {"/v1/models", http::verb::get, true, &ApiHandler::models, false,
       "The served models with their families, dimensions and modalities", "", "ModelList"},
      {"/models", http::verb::get, true, &ApiHandler::models, false, "The same, without /v1", "",
       "ModelList"},
      {"/v1/models/", http::verb::get, true, &ApiHandler::model, true,
       "One served model (OpenAI's models.retrieve)", "", "Model"},
      {"/models/", http::verb::get, true, &ApiHandler::model, true, "The same, without /v1", "",
       "Model"},
      {"/info", http::verb::get, true, &ApiHandler::info, false,
       "The default model, the limits and the version (TEI's /info)", "", "Info"},
      {"/health", http::verb::get, false, &ApiHandler::health, false,
       "200 once the default model is loaded, 503 while loading or draining", "", "Status"},
      {"/ready", http::verb::get, false, &ApiHandler::health, false, "The same as /health", "",
       "Status"},
      {"/live", http::verb::get, false, &ApiHandler::liveness, false,
       "200 unless queued work has waited too long without progress", "", "Status"},
      {"/metrics", http::verb::get, false, &ApiHandler::metrics, false,
       "Prometheus metrics (text exposition format)", "", ""},
      {"/openapi.json", http::verb::get, false, &ApiHandler::openapi, false,
       "This description (OpenAPI 3.1)", "", ""},
      {"/docs", http::verb::get, false, &ApiHandler::docs, false, "The routes as a page", "", ""},
      {"/v1/indexes", http::verb::get, true, &ApiHandler::indexes, false,
       "The served search indexes with their models and sizes", "", "IndexList"},
      {"/v1/thumbnails/", http::verb::get, true, &ApiHandler::thumbnail, true,
       "A WebP of an indexed file by its row (?size= the longest side, 16 to 1024, default 256)",
       "", "image", "{index}/{row}"},
      {"/", http::verb::get, false, &ApiHandler::page, false,
       "The search page, while an index is served (--no-ui: off)", "", "page"},
      {"/ui", http::verb::get, false, &ApiHandler::page, false, "The same page", "", "page"},
      {"/ui/", http::verb::get, false, &ApiHandler::page_file, true, "The page's script and style",
       "", "page", "{file}"},
  };
  return table;
}

std::vector<RouteDoc> ApiHandler::route_docs() {
  std::vector<RouteDoc> docs;
  for (const Route& r : routes()) {
    docs.push_back({r.path, r.method == http::verb::post ? "post" : "get", r.api, r.summary,
                    r.request, r.response, r.tail});
  }
  return docs;
}

void ApiHandler::openapi(const std::shared_ptr<Call>& call) {
  static const std::string document = openapi_document(route_docs(), version());
  HttpResponse response(http::status::ok, 11);
  response.set(http::field::content_type, "application/json");
  response.body() = document;
  reply(call, std::move(response));
}

void ApiHandler::docs(const std::shared_ptr<Call>& call) {
  static const std::string page = docs_page(route_docs(), version());
  HttpResponse response(http::status::ok, 11);
  response.set(http::field::content_type, "text/html; charset=utf-8");
  // Nothing runs and nothing is fetched from elsewhere.
  response.set("Content-Security-Policy",
               "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  response.body() = page;
  reply(call, std::move(response));
}

}  // namespace clipembed::server
