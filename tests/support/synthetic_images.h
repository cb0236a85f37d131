// Test support: images made on the spot in the formats and pixel layouts a test needs (large
// ones included), so that no test depends on a big fixture file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clipembed::testing {

// A PNG that has only its header: a valid IHDR claiming width x height of `color_type`
// (libpng's PNG_COLOR_TYPE_*), an empty IDAT and IEND. Decoders learn its size and nothing more.
std::string png_header_only(int width, int height, int color_type);

// A PNG of `width` x `height` in `color_type` at `bit_depth`, interlaced (Adam7) or not, with a
// pattern that compresses well (a 9000 x 9000 image is a few MB); palette images get a 256-entry
// palette.
std::vector<uint8_t> encode_png(int width, int height, int color_type, int bit_depth,
                                bool interlaced);

// A CMYK JPEG (Adobe, as Photoshop writes them), baseline or progressive.
std::vector<uint8_t> encode_cmyk_jpeg(int width, int height, bool progressive);

}  // namespace clipembed::testing
