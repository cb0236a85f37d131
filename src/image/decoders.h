// Internal: one decoder per container format. Each returns 8-bit RGB converted as Pillow's
// convert("RGB") would, or throws clipembed::Error. They never read past `bytes`.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "clipembed/image.h"

namespace clipembed::image {

enum class Format { kUnknown, kJpeg, kPng, kWebp, kGif, kBmp };  // kBmp: BMP or DIB.

// Identifies the format from its magic bytes (as Pillow does; names and Content-Types are ignored).
Format sniff_format(std::span<const uint8_t> bytes);

// Where decodes take their memory from when it is bounded (the server's decode budget). A decoder
// asks for every byte it will hold (the RGB canvas, its own rows, indices or coefficients) before
// it allocates any of it; the caller releases the reservation once the decoded image is gone.
class DecodeMemory {
 public:
  enum class Answer { kGranted, kNotNow, kNever };
  virtual ~DecodeMemory() = default;
  virtual Answer reserve(uint64_t bytes) = 0;
  virtual uint64_t limit() const = 0;  // The most it can ever grant at once.
};

// The mode Pillow opens an image in, where open_clip's preprocessing (which resizes before the
// RGB conversion) treats it differently: "P" and "1" are resized with NEAREST, "LA" and "RGBA"
// premultiplied by alpha, "CMYK" in CMYK, "I" (16-bit grey) in 32-bit integers.
enum class PilMode { kRgb, kL, kP, k1, kLa, kRgba, kCmyk, kI };

// What the RGB canvas lost of the image as opened, kept only when asked for.
struct SourcePixels {
  PilMode mode = PilMode::kRgb;
  std::vector<uint8_t> extra;    // kLa, kRgba: alpha, 1 byte a pixel; kCmyk: C, M, Y, K.
  std::vector<int32_t> samples;  // kI: the samples, one a pixel.
};

// The bytes SourcePixels holds for an image of that mode and size.
uint64_t source_bytes(PilMode mode, int64_t width, int64_t height);
// Sets the mode and sizes the planes of `source`, if any (after reserving source_bytes).
void prepare_source(SourcePixels* source, PilMode mode, int width, int height);

// Everything a decoder is told: the public options and, optionally, where its memory comes from
// and where to keep the image as Pillow opened it.
struct DecodeLimits {
  uint64_t max_pixels = DecodeOptions{}.max_pixels;
  DecodeMemory* memory = nullptr;
  SourcePixels* source = nullptr;
};

// The bytes `limits.source` will hold for that mode (0 when no source is asked for).
inline uint64_t kept_source_bytes(const DecodeLimits& limits, PilMode mode, int64_t width,
                                  int64_t height) {
  return limits.source == nullptr ? 0 : source_bytes(mode, width, height);
}

// Pillow's cmyk2rgb for one channel: (255 - K) - round(C * (255 - K) / 255).
inline uint8_t cmyk_channel(int c, int k) {
  const int nk = 255 - k;
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : v);
}

// Decodes any supported format (decode_image() with a memory bound).
Image decode(std::span<const uint8_t> bytes, const DecodeLimits& limits);

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_png(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_gif(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_bmp(std::span<const uint8_t> bytes, const DecodeLimits& limits);  // BMP or DIB.

// A DIB (a BMP without its file header): the first four bytes are a real BMP header size.
bool is_dib(std::span<const uint8_t> bytes);

// Throws kImageTooLarge when width x height exceeds the limit, kImageDecode when a dimension is
// not positive. Call before allocating pixels.
void check_dimensions(int64_t width, int64_t height, const DecodeLimits& limits,
                      const char* format);

// Reserves `bytes` (everything decoding the width x height image will hold, canvas included)
// from limits.memory, if any: throws kImageTooLarge when it can never be granted, kOverloaded
// when it is not free now. Call after check_dimensions, once the file is known to hold what the
// canvas needs, before allocating anything.
void reserve_decode_memory(uint64_t bytes, int64_t width, int64_t height,
                           const DecodeLimits& limits, const char* format);

// The bytes of the RGB canvas of a width x height image.
inline uint64_t rgb_bytes(int64_t width, int64_t height) {
  return static_cast<uint64_t>(width) * static_cast<uint64_t>(height) * 3;
}

// Allocates an RGB image of the given size (dimensions must have been checked).
Image make_rgb_image(int width, int height);

}  // namespace clipembed::image
