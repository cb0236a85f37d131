// clipembed/input.h: what can be embedded, and the limits every input is read under.
//
//   model->embed_image("cat.jpg");                                    // a file path
//   model->embed_image(clipembed::ImageInput::url("https://example.com/dog.png"));
//   model->embed_image(clipembed::ImageInput::guess(text));           // URL, data URI or path
//   model->embed_image(clipembed::read_image_file("cat.jpg"));        // decoded pixels
//
// One loader reads every kind (a file, an http(s) URL, base64 or a data: URI, encoded bytes in
// memory, or decoded pixels) under one set of limits (InputLimits), for the model, the pool, the
// CLI and the server alike. URL inputs are guarded against reaching private networks by default.
//
// Threading rule: ImageInput and InputLimits are plain values; copies share their bytes
// immutably, so an input may be passed to other threads freely.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clipembed/image.h"

namespace clipembed {

struct UrlLimits {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{30000};
  size_t max_bytes = 32u << 20;
  int max_redirects = 5;
  // False (the default) refuses URLs that resolve, directly or after a redirect, to private,
  // loopback, link-local or other non-public addresses with kUrlForbidden, so that a program
  // taking URLs from others never becomes a proxy into its own network (SSRF).
  bool allow_private_addresses = false;
};

struct InputLimits {
  DecodeOptions decode;                 // Pixel limit of a decoded image.
  UrlLimits url;                        // Downloads of URL inputs.
  size_t max_base64_bytes = 32u << 20;  // Decoded size of a base64 input.
  // Size of an image file, refused before reading (a huge or sparse file costs nothing).
  uint64_t max_file_bytes = uint64_t{256} << 20;
};

// One image to embed. Cheap to copy: encoded bytes and pixels are shared, never copied.
class ImageInput {
 public:
  enum class Kind { kFile, kUrl, kBase64, kBytes, kPixels };

  // A file path (the implicit conversions make `embed_image("cat.jpg")` read a file).
  ImageInput(std::string path);  // NOLINT(google-explicit-constructor)
  ImageInput(const char* path);  // NOLINT(google-explicit-constructor)
  // Decoded pixels.
  ImageInput(Image image);  // NOLINT(google-explicit-constructor)

  static ImageInput file(std::string path);
  static ImageInput url(std::string url);      // http:// or https:// only.
  static ImageInput base64(std::string text);  // Plain base64 or a data:image/...;base64, URI.
  static ImageInput bytes(std::vector<uint8_t> encoded);  // An encoded image in memory.
  static ImageInput pixels(Image image);
  // The kind a string's form names: a URL for http(s)://, base64 for data: URIs, else a path.
  static ImageInput guess(std::string text);

  Kind kind() const { return kind_; }
  // The path, URL or base64 text (empty for bytes and pixels).
  const std::string& text() const { return text_; }
  const std::vector<uint8_t>& encoded() const;  // Kind::kBytes only.
  const Image& image() const;                   // Kind::kPixels only.
  // A short description for messages: the path or URL, or "base64 input", "image bytes"...
  std::string describe() const;

 private:
  ImageInput(Kind kind, std::string text);

  Kind kind_ = Kind::kFile;
  std::string text_;
  std::shared_ptr<const std::vector<uint8_t>> encoded_;
  std::shared_ptr<const Image> image_;
};

// True for text that starts with http:// or https:// (the one test of what a URL input is).
bool is_url(std::string_view text);

}  // namespace clipembed
