// WebP through libwebp, as Pillow 9.4 decodes it: a still image (lossy or lossless) with the
// default (fancy) upsampling, its alpha channel dropped as convert("RGB") drops it; an animated
// image's first frame as libwebp's animation decoder composes it (Pillow reads every WebP through
// it): the frame on a canvas of the file's canvas size, transparent black where it does not
// reach, in non-premultiplied RGBA, the alpha then dropped.
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>
#include <vector>

#include "clipembed/error.h"
#include "image/decoders.h"

namespace clipembed::image {
namespace {

struct AnimDecoderDelete {
  void operator()(WebPAnimDecoder* decoder) const { WebPAnimDecoderDelete(decoder); }
};

// Keeps the alpha of RGBA pixels (Pillow opens a WebP with alpha as "RGBA").
void keep_alpha(const uint8_t* rgba, size_t pixels, SourcePixels* source) {
  if (source == nullptr || source->mode != PilMode::kRgba) return;
  for (size_t i = 0; i < pixels; ++i) source->extra[i] = rgba[4 * i + 3];
}

Image decode_first_frame(std::span<const uint8_t> bytes, const WebPBitstreamFeatures& features,
                         SourcePixels* source) {
  const WebPData data{bytes.data(), bytes.size()};
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options)) {
    throw Error(ErrorCode::kInternal, "libwebp's animation decoder does not match its headers");
  }
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  const std::unique_ptr<WebPAnimDecoder, AnimDecoderDelete> decoder(
      WebPAnimDecoderNew(&data, &options));
  if (decoder == nullptr) throw Error(ErrorCode::kImageDecode, "invalid animated WebP");
  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &rgba, &timestamp)) {
    throw Error(ErrorCode::kImageDecode, "invalid or truncated animated WebP data");
  }
  Image img = make_rgb_image(features.width, features.height);
  const size_t pixels = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
  for (size_t i = 0; i < pixels; ++i) {
    img.rgb[3 * i] = rgba[4 * i];
    img.rgb[3 * i + 1] = rgba[4 * i + 1];
    img.rgb[3 * i + 2] = rgba[4 * i + 2];
  }
  keep_alpha(rgba, pixels, source);
  return img;
}

}  // namespace

Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimits& options) {
  WebPBitstreamFeatures features{};
  if (WebPGetFeatures(bytes.data(), bytes.size(), &features) != VP8_STATUS_OK) {
    throw Error(ErrorCode::kImageDecode, "invalid WebP header");
  }
  check_dimensions(features.width, features.height, options, "WebP");
  const uint64_t pixels = static_cast<uint64_t>(features.width) * features.height;
  const PilMode mode = features.has_alpha ? PilMode::kRgba : PilMode::kRgb;
  const uint64_t kept = kept_source_bytes(options, mode, features.width, features.height);
  if (features.has_animation) {
    // The animation decoder keeps two RGBA canvases (the frame being composed and the previous
    // one), and a lossless frame goes through an ARGB buffer of its own.
    reserve_decode_memory(rgb_bytes(features.width, features.height) + 12 * pixels +
                              uint64_t{256} * features.width + kept,
                          features.width, features.height, options, "WebP");
    prepare_source(options.source, mode, features.width, features.height);
    return decode_first_frame(bytes, features, options.source);
  }
  // libwebp decodes straight into the canvas; a lossless image goes through a whole ARGB buffer
  // (four bytes a pixel) first, and a lossy image's alpha plane, itself possibly lossless-coded,
  // is decoded whole as well (up to five bytes a pixel). Both keep some rows of their own.
  const uint64_t held = rgb_bytes(features.width, features.height) +
                        (features.format == 2 ? 4 * pixels
                         : features.has_alpha ? 5 * pixels
                                              : 0) +
                        uint64_t{256} * features.width + kept +
                        (kept > 0 ? 4 * pixels : 0);  // The RGBA decode's buffer.
  reserve_decode_memory(held, features.width, features.height, options, "WebP");
  prepare_source(options.source, mode, features.width, features.height);
  Image img = make_rgb_image(features.width, features.height);
  if (mode == PilMode::kRgba && options.source != nullptr) {
    // The RGBA decode gives the same colour values as the RGB one, and the alpha with them.
    std::vector<uint8_t> rgba(4 * static_cast<size_t>(pixels));
    if (WebPDecodeRGBAInto(bytes.data(), bytes.size(), rgba.data(), rgba.size(), 4 * img.width) ==
        nullptr) {
      throw Error(ErrorCode::kImageDecode, "invalid or truncated WebP data");
    }
    for (size_t i = 0; i < pixels; ++i) std::memcpy(&img.rgb[3 * i], &rgba[4 * i], 3);
    keep_alpha(rgba.data(), pixels, options.source);
    return img;
  }
  const int stride = img.width * 3;
  if (WebPDecodeRGBInto(bytes.data(), bytes.size(), img.rgb.data(), img.rgb.size(), stride) ==
      nullptr) {
    throw Error(ErrorCode::kImageDecode, "invalid or truncated WebP data");
  }
  return img;
}

}  // namespace clipembed::image
