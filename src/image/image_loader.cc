#include "image/image_loader.h"

#include <future>
#include <memory>

#include "clipembed/runtime.h"
#include "image/decoders.h"
#include "io/address_policy.h"
#include "io/base64.h"
#include "io/file.h"
#include "io/url_fetcher.h"

namespace clipembed {

ImageInput::ImageInput(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}
ImageInput::ImageInput(std::string path) : ImageInput(Kind::kFile, std::move(path)) {}
ImageInput::ImageInput(const char* path) : ImageInput(Kind::kFile, std::string(path)) {}
ImageInput::ImageInput(Image image) : kind_(Kind::kPixels) {
  image_ = std::make_shared<const Image>(std::move(image));
}

ImageInput ImageInput::file(std::string path) { return {Kind::kFile, std::move(path)}; }
ImageInput ImageInput::url(std::string url) { return {Kind::kUrl, std::move(url)}; }
ImageInput ImageInput::base64(std::string text) { return {Kind::kBase64, std::move(text)}; }
ImageInput ImageInput::pixels(Image image) { return ImageInput(std::move(image)); }

ImageInput ImageInput::bytes(std::vector<uint8_t> encoded) {
  ImageInput input(Kind::kBytes, {});
  input.encoded_ = std::make_shared<const std::vector<uint8_t>>(std::move(encoded));
  return input;
}

ImageInput ImageInput::guess(std::string text) {
  if (is_url(text)) return url(std::move(text));
  if (text.rfind("data:", 0) == 0) return base64(std::move(text));
  return file(std::move(text));
}

const std::vector<uint8_t>& ImageInput::encoded() const {
  if (kind_ != Kind::kBytes) throw Error(ErrorCode::kInvalidArgument, "not a bytes input");
  return *encoded_;
}

const Image& ImageInput::image() const {
  if (kind_ != Kind::kPixels) throw Error(ErrorCode::kInvalidArgument, "not a pixels input");
  return *image_;
}

std::string ImageInput::describe() const {
  switch (kind_) {
    case Kind::kFile:
    case Kind::kUrl:
      return text_;
    case Kind::kBase64:
      return "base64 input";
    case Kind::kBytes:
      return "image bytes";
    case Kind::kPixels:
      return "decoded image";
  }
  return {};
}

bool is_url(std::string_view text) {
  return text.starts_with("http://") || text.starts_with("https://");
}

namespace image {
namespace {

io::UrlOptions url_options(const UrlLimits& limits) {
  io::UrlOptions o{limits.connect_timeout, limits.total_timeout, limits.max_bytes,
                   limits.max_redirects, nullptr};
  if (!limits.allow_private_addresses) o.refuse_address = io::is_non_public_address;
  return o;
}

}  // namespace

uint64_t fetch_url(const std::string& url, const UrlLimits& limits,
                   std::function<void(std::vector<uint8_t>* body, const Error* error)> done) {
  return io::UrlFetcher::instance().fetch(url, url_options(limits), std::move(done));
}

void cancel_fetch(uint64_t id) { io::UrlFetcher::instance().cancel(id); }

namespace {

DecodeLimits decode_limits(const InputLimits& limits, DecodeMemory* memory, SourcePixels* source) {
  return DecodeLimits{.max_pixels = limits.decode.max_pixels, .memory = memory, .source = source};
}

}  // namespace

Image decode_downloaded(const std::string& url, std::span<const uint8_t> bytes,
                        const InputLimits& limits, DecodeMemory* memory, SourcePixels* source) {
  try {
    return decode(bytes, decode_limits(limits, memory, source));
  } catch (const Error& e) {
    throw Error(e.code(), url + ": " + e.what());
  }
}

// Decodes a file's bytes, naming the file in errors (as read_image_file() does).
static Image decode_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes,
                               const DecodeLimits& limits) {
  try {
    return decode(bytes, limits);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

Image load_image(const ImageInput& input, const InputLimits& limits, DecodeMemory* memory,
                 SourcePixels* source) {
  const DecodeLimits decode_with = decode_limits(limits, memory, source);
  switch (input.kind()) {
    case ImageInput::Kind::kFile:
      return decode_file_bytes(input.text(), io::read_file(input.text(), limits.max_file_bytes),
                               decode_with);
    case ImageInput::Kind::kBase64:
      return decode(io::decode_base64(input.text(), limits.max_base64_bytes), decode_with);
    case ImageInput::Kind::kBytes:
      return decode(input.encoded(), decode_with);
    case ImageInput::Kind::kPixels:
      return input.image();
    case ImageInput::Kind::kUrl:
      break;
  }
  auto promise = std::make_shared<std::promise<std::vector<uint8_t>>>();
  auto future = promise->get_future();
  fetch_url(input.text(), limits.url, [promise](std::vector<uint8_t>* body, const Error* error) {
    if (error != nullptr) {
      promise->set_exception(std::make_exception_ptr(*error));
    } else {
      promise->set_value(std::move(*body));
    }
  });
  const std::vector<uint8_t> bytes = shared_runtime().wait(future);
  return decode_downloaded(input.text(), bytes, limits, memory, source);
}

bool is_base64_image(std::string_view text) {
  // 16 characters are 12 bytes, enough for every signature sniff_format() reads (WebP's is the
  // longest, 12); a shorter text cannot be an image.
  constexpr size_t kPrefix = 16;
  if (text.size() < kPrefix) return false;
  try {
    const std::vector<uint8_t> head = io::decode_base64(text.substr(0, kPrefix), kPrefix);
    return sniff_format(head) != Format::kUnknown;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace image
}  // namespace clipembed
