// Internal: one decoder per container format. Each returns 8-bit RGB converted as Pillow's
// convert("RGB") would, or throws clipembed::Error. They never read past `bytes`.
#pragma once

#include <cstdint>
#include <span>

#include "clipembed/image.h"

namespace clipembed::image {

enum class Format { kUnknown, kJpeg, kPng, kWebp, kGif, kBmp };

// Identifies the format from its magic bytes (as Pillow does; names and Content-Types are ignored).
Format sniff_format(std::span<const uint8_t> bytes);

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeOptions& options);
Image decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options);
Image decode_webp(std::span<const uint8_t> bytes, const DecodeOptions& options);
Image decode_gif(std::span<const uint8_t> bytes, const DecodeOptions& options);
Image decode_bmp(std::span<const uint8_t> bytes, const DecodeOptions& options);

// Throws kImageTooLarge when width x height exceeds the limit, kImageDecode when a dimension is
// not positive. Call before allocating pixels.
void check_dimensions(int64_t width, int64_t height, const DecodeOptions& options,
                      const char* format);

// Reserves the memory decoding width x height pixels takes from options.reserve (the server's
// decode budget); throws kOverloaded when it is not free now. Call after check_dimensions, once
// the file is known to hold what the canvas needs, before allocating it.
void reserve_decode_memory(int64_t width, int64_t height, const DecodeOptions& options,
                           const char* format);

// Allocates an RGB image of the given size (dimensions must have been checked).
Image make_rgb_image(int width, int height);

}  // namespace clipembed::image
