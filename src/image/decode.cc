#include <cstring>
#include <string>

#include "clipembed/error.h"
#include "clipembed/image.h"
#include "image/decoders.h"
#include "io/file.h"

namespace clipembed {
namespace image {

Format sniff_format(std::span<const uint8_t> b) {
  auto starts_with = [&](const char* magic, size_t at = 0) {
    size_t n = std::strlen(magic);
    return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
  };
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return Format::kJpeg;
  if (starts_with("\x89PNG\r\n\x1a\n")) return Format::kPng;
  if (starts_with("RIFF") && starts_with("WEBP", 8)) return Format::kWebp;
  if (starts_with("GIF87a") || starts_with("GIF89a")) return Format::kGif;
  if (starts_with("BM")) return Format::kBmp;
  // Last, as Pillow tries its DIB plugin after the formats with magic bytes.
  if (is_dib(b)) return Format::kBmp;
  return Format::kUnknown;
}

void check_dimensions(int64_t width, int64_t height, const DecodeLimits& options,
                      const char* format) {
  if (width <= 0 || height <= 0) {
    throw Error(ErrorCode::kImageDecode, std::string(format) + " image has an invalid size " +
                                             std::to_string(width) + "x" + std::to_string(height));
  }
  // Each factor fits in 32 bits here in practice; guard the product against overflow anyway.
  if (width > (int64_t{1} << 31) || height > (int64_t{1} << 31) ||
      static_cast<uint64_t>(width) * static_cast<uint64_t>(height) > options.max_pixels) {
    throw Error(ErrorCode::kImageTooLarge,
                std::string(format) + " image of " + std::to_string(width) + "x" +
                    std::to_string(height) + " pixels exceeds the limit of " +
                    std::to_string(options.max_pixels) + " pixels");
  }
}

void reserve_decode_memory(uint64_t bytes, int64_t width, int64_t height,
                           const DecodeLimits& limits, const char* format) {
  if (limits.memory == nullptr) return;
  const DecodeMemory::Answer answer = limits.memory->reserve(bytes);
  if (answer == DecodeMemory::Answer::kGranted) return;
  const std::string what = std::string(format) + " image of " + std::to_string(width) + "x" +
                           std::to_string(height) + " pixels needs " +
                           std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB to decode";
  if (answer == DecodeMemory::Answer::kNever) {
    throw Error(ErrorCode::kImageTooLarge, what + ", more than the decode memory limit of " +
                                               std::to_string(limits.memory->limit() >> 20) +
                                               " MiB");
  }
  throw Error(ErrorCode::kOverloaded, what + ", more than the decode memory free now; retry later");
}

Image make_rgb_image(int width, int height) {
  Image img;
  img.width = width;
  img.height = height;
  img.rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  return img;
}

uint64_t source_bytes(PilMode mode, int64_t width, int64_t height) {
  const auto pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  switch (mode) {
    case PilMode::kLa:
    case PilMode::kRgba:
      return pixels;
    case PilMode::kCmyk:
    case PilMode::kI:
      return 4 * pixels;
    default:
      return 0;
  }
}

void prepare_source(SourcePixels* source, PilMode mode, int width, int height) {
  if (source == nullptr) return;
  source->mode = mode;
  const auto pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  source->extra.clear();
  source->samples.clear();
  if (mode == PilMode::kLa || mode == PilMode::kRgba) source->extra.resize(pixels);
  if (mode == PilMode::kCmyk) source->extra.resize(4 * pixels);
  if (mode == PilMode::kI) source->samples.resize(pixels);
}

Image decode(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  switch (sniff_format(bytes)) {
    case Format::kJpeg:
      return decode_jpeg(bytes, limits);
    case Format::kPng:
      return decode_png(bytes, limits);
    case Format::kWebp:
      return decode_webp(bytes, limits);
    case Format::kGif:
      return decode_gif(bytes, limits);
    case Format::kBmp:
      return decode_bmp(bytes, limits);
    case Format::kUnknown:
      break;
  }
  if (bytes.empty()) throw Error(ErrorCode::kImageDecode, "empty input is not an image");
  throw Error(ErrorCode::kImageDecode,
              "unrecognised image format (supported: JPEG, PNG, WebP, GIF, BMP, DIB)");
}

}  // namespace image

Image decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  return image::decode(bytes, image::DecodeLimits{.max_pixels = options.max_pixels});
}

Image read_image_file(const std::string& path, const DecodeOptions& options) {
  std::vector<uint8_t> bytes = io::read_file(path);
  try {
    return decode_image(bytes, options);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

}  // namespace clipembed
