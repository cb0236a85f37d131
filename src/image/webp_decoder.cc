// WebP (lossy and lossless, still images) through libwebp with its default (fancy) upsampling, as
// Pillow decodes it; the alpha channel, if any, is dropped as convert("RGB") drops it.
#include <webp/decode.h>

#include "clipembed/error.h"
#include "image/decoders.h"

namespace clipembed::image {

Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimits& options) {
  WebPBitstreamFeatures features{};
  if (WebPGetFeatures(bytes.data(), bytes.size(), &features) != VP8_STATUS_OK) {
    throw Error(ErrorCode::kImageDecode, "invalid WebP header");
  }
  if (features.has_animation) {
    // Animated WebP needs the demuxer to compose frames; Pillow would show frame 0.
    throw Error(ErrorCode::kUnsupported, "animated WebP is not supported");
  }
  check_dimensions(features.width, features.height, options, "WebP");
  // libwebp decodes straight into the canvas; a lossless image goes through a whole ARGB buffer
  // (four bytes a pixel) first, and a lossy image's alpha plane, itself possibly lossless-coded,
  // is decoded whole as well (up to five bytes a pixel). Both keep some rows of their own.
  const uint64_t pixels = static_cast<uint64_t>(features.width) * features.height;
  const uint64_t held = rgb_bytes(features.width, features.height) +
                        (features.format == 2 ? 4 * pixels
                         : features.has_alpha ? 5 * pixels
                                              : 0) +
                        uint64_t{256} * features.width;
  reserve_decode_memory(held, features.width, features.height, options, "WebP");
  Image img = make_rgb_image(features.width, features.height);
  const int stride = img.width * 3;
  if (WebPDecodeRGBInto(bytes.data(), bytes.size(), img.rgb.data(), img.rgb.size(), stride) ==
      nullptr) {
    throw Error(ErrorCode::kImageDecode, "invalid or truncated WebP data");
  }
  return img;
}

}  // namespace clipembed::image
