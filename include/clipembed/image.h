// clipembed/image.h: decoding image files into 8-bit RGB exactly as Pillow does.
//
//   clipembed::Image img = clipembed::read_image_file("cat.jpg");
//   // img.width, img.height, img.rgb (row-major, 3 bytes per pixel)
//
// Supported: JPEG (incl. CMYK/YCCK), PNG (1-16 bit, gray, palette, alpha), WebP (of an animation,
// the first frame), BMP and DIB, GIF (the first frame). The conversion to RGB is Pillow's
// `convert("RGB")`: alpha is dropped, palettes expanded, 16-bit samples reduced as Pillow reduces
// them. EXIF orientation is not applied (Pillow does not). Where Pillow releases differ, the
// decoders follow Pillow 9.4 (README.md, "Image formats").
// Thread-safe: these functions keep no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace clipembed {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes, row-major, no padding.
};

struct DecodeOptions {
  // Images with more pixels than this are refused with ErrorCode::kImageTooLarge before their
  // pixels are allocated. The default is Pillow's MAX_IMAGE_PIXELS.
  uint64_t max_pixels = 89'478'485;
};

// Decodes an encoded image (the format is found from its leading bytes, not from a name).
// Throws Error with kImageDecode, kImageTooLarge or kUnsupported.
Image decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options = {});

// Reads and decodes a file. Throws Error with kIo when the file cannot be read.
Image read_image_file(const std::string& path, const DecodeOptions& options = {});

// Writes an RGB image as an 8-bit PNG file (used to inspect what the model sees).
void write_png_file(const Image& image, const std::string& path);

}  // namespace clipembed
