// Internal: the thumbnails of GET /v1/thumbnails/{index}/{row}?size=N, which the search page
// shows. A thumbnail is made only of a file an index holds, found by its row (never by a path a
// client sends), decoded under the pool's decode budget, and kept in a small LRU cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "clipembed/pool.h"
#include "server/served_indexes.h"

namespace clipembed::server {

// Thumbnail sizes a client may ask for (the longest side, in pixels), and the default.
constexpr int kMinThumbnailSize = 16;
constexpr int kMaxThumbnailSize = 1024;
constexpr int kDefaultThumbnailSize = 256;

// The file behind row `row_text` (decimal digits only) of `index`, checked: throws ApiError 404
// for a row that is not a number of the index or that names a URL, and 410 for a file that is
// gone, or was modified after the index's vectors were last written (its row no longer shows
// what was embedded).
std::string thumbnail_source(const ServedIndex& index, std::string_view row_text);

// A WebP of `encoded` scaled so that its longest side is at most `size` (never enlarged),
// decoded by `pool` under its decode budget (throws its errors: kImageTooLarge, kOverloaded,
// kImageDecode).
std::string make_thumbnail(const ModelPool& pool, std::span<const uint8_t> encoded, int size);

// Thread-safe, least recently used first out, bounded by the bytes it holds.
class ThumbnailCache {
 public:
  explicit ThumbnailCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  std::shared_ptr<const std::string> find(const std::string& key);
  void put(const std::string& key, std::shared_ptr<const std::string> thumbnail);

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const std::string>>;
  const size_t max_bytes_;
  std::mutex mutex_;
  std::list<Entry> entries_;  // Most recently used first.
  std::unordered_map<std::string, std::list<Entry>::iterator> by_key_;
  size_t bytes_ = 0;
};

}  // namespace clipembed::server
