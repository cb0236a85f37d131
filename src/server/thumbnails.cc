#include "server/thumbnails.h"

#include <webp/encode.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "clipembed/error.h"
#include "image/resize.h"
#include "server/api_error.h"

namespace clipembed::server {
namespace fs = std::filesystem;

namespace {

ApiError not_found(const std::string& message) {
  return ApiError{404, "invalid_request_error", "thumbnail_not_found", message, 0};
}

ApiError gone(const std::string& message) {
  return ApiError{410, "invalid_request_error", "file_gone", message, 0};
}

}  // namespace

std::string thumbnail_source(const ServedIndex& index, std::string_view row_text) {
  // Digits only: no sign, space, dot or path; the row is an index into the index's own list.
  size_t row = 0;
  const auto [end, error] =
      std::from_chars(row_text.data(), row_text.data() + row_text.size(), row);
  if (row_text.empty() || error != std::errc() || end != row_text.data() + row_text.size() ||
      !std::all_of(row_text.begin(), row_text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      row >= index.index->size()) {
    throw not_found("index '" + index.name + "' has no row '" + std::string(row_text) +
                    "' (rows are 0 to " + std::to_string(index.index->size()) + " - 1)");
  }
  const std::string& path = index.index->path(row);
  if (path.starts_with("http://") || path.starts_with("https://")) {
    throw not_found("row " + std::to_string(row) + " of index '" + index.name +
                    "' is a URL, which has no thumbnail");
  }
  std::error_code ec;
  const auto modified = fs::last_write_time(path, ec);
  if (ec || !fs::is_regular_file(path, ec)) {
    throw gone("the file of row " + std::to_string(row) + " is gone since it was indexed");
  }
  const auto indexed = fs::last_write_time(index.directory + "/vectors.npy", ec);
  if (!ec && modified > indexed) {
    throw gone("the file of row " + std::to_string(row) +
               " was modified after it was indexed; run clipembed index build again");
  }
  return path;
}

std::string make_thumbnail(const ModelPool& pool, std::span<const uint8_t> encoded, int size) {
  std::string webp;
  pool.with_decoded_image(encoded, [&](const Image& image) {
    const int longest = std::max(image.width, image.height);
    Image scaled;
    if (longest > size) {
      // Pillow's Image.thumbnail: the aspect ratio kept, bicubic with antialiasing.
      const int width = std::max(1, static_cast<int>(int64_t{image.width} * size / longest));
      const int height = std::max(1, static_cast<int>(int64_t{image.height} * size / longest));
      scaled = image::resize(image, width, height, image::Filter::kBicubic);
    }
    const Image& out = longest > size ? scaled : image;
    uint8_t* bytes = nullptr;
    const size_t length =
        WebPEncodeRGB(out.rgb.data(), out.width, out.height, out.width * 3, 80.0f, &bytes);
    if (length == 0) {
      throw Error(ErrorCode::kInternal, "the WebP encoder failed");
    }
    webp.assign(reinterpret_cast<const char*>(bytes), length);
    WebPFree(bytes);
  });
  return webp;
}

std::shared_ptr<const std::string> ThumbnailCache::find(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->second;
}

void ThumbnailCache::put(const std::string& key, std::shared_ptr<const std::string> thumbnail) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (by_key_.contains(key) || thumbnail->size() > max_bytes_) return;
  bytes_ += thumbnail->size();
  entries_.emplace_front(key, std::move(thumbnail));
  by_key_[key] = entries_.begin();
  while (bytes_ > max_bytes_) {
    bytes_ -= entries_.back().second->size();
    by_key_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

}  // namespace clipembed::server
