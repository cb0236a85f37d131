// The search page's routes: the page and its files (data/ui, assembled into the binary), the
// served indexes, and the thumbnails of their rows.
#include <string>

#include "clipembed/runtime.h"
#include "core/incbin.h"
#include "io/file.h"
#include "server/api_handler.h"
#include "server/thumbnails.h"

CLIPEMBED_INCBIN(clipembed_ui_html, "ui/search.html")
CLIPEMBED_INCBIN(clipembed_ui_js, "ui/search.js")
CLIPEMBED_INCBIN(clipembed_ui_css, "ui/search.css")
CLIPEMBED_INCBIN(clipembed_ui_icon, "ui/icon.svg")

namespace clipembed::server {
namespace {

// The page runs only its own script and style, talks only to this server, shows only images it
// made from thumbnails it fetched (blob: URLs), and cannot be framed.
constexpr char kPagePolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

HttpResponse file_response(std::string_view body, const char* type) {
  HttpResponse response(http::status::ok, 11);
  response.set(http::field::content_type, type);
  response.set("Content-Security-Policy", kPagePolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set(http::field::cache_control, "no-cache");
  response.body() = std::string(body);
  return response;
}

std::string_view between(const char* begin, const char* end) {
  return {begin, static_cast<size_t>(end - begin)};
}

HttpResponse thumbnail_response(const std::string& webp) {
  HttpResponse response(http::status::ok, 11);
  response.set(http::field::content_type, "image/webp");
  // The row's file may change (then the thumbnail answers 410): kept an hour, by this client only.
  response.set(http::field::cache_control, "private, max-age=3600");
  response.set("X-Content-Type-Options", "nosniff");
  response.body() = webp;
  return response;
}

}  // namespace

bool ApiHandler::page_served() const { return options_.ui && !indexes_.indexes().empty(); }

void ApiHandler::page(const std::shared_ptr<Call>& call) {
  if (!page_served()) {
    throw ApiError{404, "invalid_request_error", "not_found",
                   options_.ui ? "the search page needs an index: serve one with --index NAME=DIR"
                               : "the search page is off (--no-ui)",
                   0};
  }
  reply(call, file_response(between(clipembed_ui_html_begin, clipembed_ui_html_end),
                            "text/html; charset=utf-8"));
}

void ApiHandler::page_file(const std::shared_ptr<Call>& call) {
  const std::string_view name = path_of(call->request.target()).substr(call->record.route.size());
  if (page_served() && name == "search.js") {
    return reply(call, file_response(between(clipembed_ui_js_begin, clipembed_ui_js_end),
                                     "text/javascript; charset=utf-8"));
  }
  if (page_served() && name == "search.css") {
    return reply(call, file_response(between(clipembed_ui_css_begin, clipembed_ui_css_end),
                                     "text/css; charset=utf-8"));
  }
  if (page_served() && name == "icon.svg") {
    return reply(call, file_response(between(clipembed_ui_icon_begin, clipembed_ui_icon_end),
                                     "image/svg+xml"));
  }
  throw ApiError{404, "invalid_request_error", "not_found",
                 "no page file '" + std::string(name) + "'", 0};
}

void ApiHandler::indexes(const std::shared_ptr<Call>& call) {
  nlohmann::json data = nlohmann::json::array();
  for (const ServedIndex& index : indexes_.indexes()) {
    const IndexInfo& info = index.index->info();
    data.push_back({{"name", index.name},
                    {"model", index.model},
                    {"count", index.index->size()},
                    {"dimension", info.dimension},
                    {"precision", info.precision},
                    {"type", index_type_name(info.resolved.type)}});
  }
  HttpResponse response(http::status::ok, 11);
  response.set(http::field::content_type, "application/json");
  response.body() = nlohmann::json{{"object", "list"}, {"data", data}}.dump();
  reply(call, std::move(response));
}

void ApiHandler::thumbnail(const std::shared_ptr<Call>& call) {
  const std::string target(call->request.target());
  // {index}/{row}: the row is after the last slash (an index name holds none).
  const std::string rest =
      percent_decoded(path_of(target).substr(call->record.route.size()), false);
  const size_t slash = rest.rfind('/');
  const ServedIndex* index =
      slash == std::string::npos || slash == 0 ? nullptr : indexes_.find(rest.substr(0, slash));
  if (index == nullptr) {
    throw ApiError{404, "invalid_request_error", "index_not_found",
                   "a thumbnail is /v1/thumbnails/{index}/{row} of a served index", 0};
  }
  const std::string size_text = query_param(target, "size");
  int size = kDefaultThumbnailSize;
  if (!size_text.empty()) {
    size_t used = 0;
    try {
      size = std::stoi(size_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != size_text.size() || size < kMinThumbnailSize || size > kMaxThumbnailSize) {
      throw bad_request("size must be a whole number of pixels from " +
                            std::to_string(kMinThumbnailSize) + " to " +
                            std::to_string(kMaxThumbnailSize),
                        "invalid_size");
    }
  }
  const std::string row = rest.substr(slash + 1);
  const std::string path = thumbnail_source(*index, row);
  const std::string key = index->name + "/" + row + "?" + std::to_string(size);
  call->record.items = 1;
  if (const auto cached = thumbnails_.find(key)) return reply(call, thumbnail_response(*cached));
  // Reading, decoding and scaling run on the compute runtime, not on this I/O thread.
  shared_runtime().submit([this, call, path, size, key] {
    try {
      const std::vector<uint8_t> bytes = io::read_file(path, options_.pool.input.max_file_bytes);
      auto webp = std::make_shared<const std::string>(make_thumbnail(pool_, bytes, size));
      thumbnails_.put(key, webp);
      reply(call, thumbnail_response(*webp));
    } catch (const Error& e) {
      reply_error(call, api_error_for(e, ""));
    } catch (const std::exception& e) {
      reply_error(call, ApiError{500, "server_error", "internal", e.what(), 0});
    }
  });
}

}  // namespace clipembed::server
