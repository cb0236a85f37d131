// Pillow's Image.resize per mode, as open_clip's transform (torchvision's Resize on a PIL image)
// calls it before converting to RGB. Written by hand for the same reason as resize.cc: the
// reference's bytes depend on Pillow's exact arithmetic (libImaging/Geometry.c for NEAREST,
// Resample.c's 32-bit path for "I", Convert.c's premultiplication for "RGBA" and "LA").
#include "image/open_clip_preprocess.h"

#include <cmath>
#include <vector>

#include "clipembed/error.h"
#include "image/preprocess_plan.h"
#include "image/resize.h"

namespace clipembed::image {
namespace {

// Pillow's COORD: truncation toward zero, -1 for negative positions.
int coord(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }

// Pillow's NEAREST resize (ImagingScaleAffine): source positions accumulated in double from
// half a step in, as Pillow accumulates them. Only `window` is produced.
Image resize_nearest(const Image& in, int width, int height, const Window& window) {
  const double ax = static_cast<double>(in.width) / width;
  const double ay = static_cast<double>(in.height) / height;
  std::vector<int> columns(static_cast<size_t>(width));
  double xo = ax * 0.5;
  for (int x = 0; x < width; ++x, xo += ax) columns[x] = coord(xo);
  Image out;
  out.width = window.width, out.height = window.height;
  out.rgb.assign(static_cast<size_t>(out.width) * out.height * 3, 0);
  double yo = ay * 0.5;
  for (int y = 0; y < window.y + window.height; ++y, yo += ay) {
    if (y < window.y) continue;
    const int yi = coord(yo);
    if (yi < 0 || yi >= in.height) continue;
    uint8_t* row = out.rgb.data() + static_cast<size_t>(y - window.y) * out.width * 3;
    for (int x = 0; x < window.width; ++x) {
      const int xi = columns[window.x + x];
      if (xi < 0 || xi >= in.width) continue;
      const uint8_t* p = in.rgb.data() + (static_cast<size_t>(yi) * in.width + xi) * 3;
      row[3 * x] = p[0], row[3 * x + 1] = p[1], row[3 * x + 2] = p[2];
    }
  }
  return out;
}

// Pillow's ROUND_UP for the 32-bit path.
int32_t round_up(double f) {
  return static_cast<int32_t>(f >= 0.0 ? f + 0.5f
                                       : f - 0.5f);  // NOLINT(bugprone-incorrect-roundings)
}

// Mode "I": the 32-bit integer resample (horizontal pass, then vertical), then convert("RGB")
// clips each sample to 0..255.
Image resize_int32(const std::vector<int32_t>& in, int in_width, int in_height, int width,
                   int height, Filter filter, const Window& window) {
  // The samples after each pass: the input itself until a pass has run.
  std::vector<int32_t> passed;
  const std::vector<int32_t>* rows_ptr = &in;
  int w = in_width;
  if (width != in_width) {
    const Taps h = resample_taps(in_width, width, filter);
    std::vector<int32_t> out(static_cast<size_t>(width) * in_height);
    for (int y = 0; y < in_height; ++y) {
      for (int x = 0; x < width; ++x) {
        const double* k = &h.weights[static_cast<size_t>(x) * h.capacity];
        double ss = 0.0;
        for (int i = 0; i < h.count[x]; ++i) {
          ss += in[static_cast<size_t>(y) * in_width + h.first[x] + i] * k[i];
        }
        out[static_cast<size_t>(y) * width + x] = round_up(ss);
      }
    }
    passed = std::move(out);
    rows_ptr = &passed;
    w = width;
  }
  if (height != in_height) {
    const Taps v = resample_taps(in_height, height, filter);
    const std::vector<int32_t>& rows = *rows_ptr;
    std::vector<int32_t> out(static_cast<size_t>(w) * height);
    for (int y = 0; y < height; ++y) {
      const double* k = &v.weights[static_cast<size_t>(y) * v.capacity];
      for (int x = 0; x < w; ++x) {
        double ss = 0.0;
        for (int i = 0; i < v.count[y]; ++i) {
          ss += rows[static_cast<size_t>(v.first[y] + i) * w + x] * k[i];
        }
        out[static_cast<size_t>(y) * w + x] = round_up(ss);
      }
    }
    passed = std::move(out);
    rows_ptr = &passed;
  }
  const std::vector<int32_t>& rows = *rows_ptr;
  Image crop;
  crop.width = window.width, crop.height = window.height;
  crop.rgb.resize(static_cast<size_t>(crop.width) * crop.height * 3);
  for (int y = 0; y < window.height; ++y) {
    for (int x = 0; x < window.width; ++x) {
      const int32_t s = rows[static_cast<size_t>(window.y + y) * w + window.x + x];
      const auto v = static_cast<uint8_t>(s <= 0 ? 0 : s >= 255 ? 255 : s);
      uint8_t* o = &crop.rgb[(static_cast<size_t>(y) * crop.width + x) * 3];
      o[0] = o[1] = o[2] = v;
    }
  }
  return crop;
}

// MULDIV255: round(a * b / 255) as Pillow computes it.
uint8_t muldiv255(unsigned a, unsigned b) {
  const unsigned t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

// A plane of one byte a pixel as an RGB image (the byte three times), so that the RGB resampler
// resizes it: each channel of Pillow's resample is its own sum.
Image plane_image(const std::vector<uint8_t>& plane, size_t stride, size_t offset, int width,
                  int height) {
  Image img;
  img.width = width, img.height = height;
  const size_t pixels = static_cast<size_t>(width) * height;
  img.rgb.resize(pixels * 3);
  for (size_t i = 0; i < pixels; ++i) {
    img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = plane[i * stride + offset];
  }
  return img;
}

// "RGBA" and "LA": convert to "RGBa" / "La" (premultiplied), resize, convert back, drop alpha.
Image resize_premultiplied(const Image& rgb, const SourcePixels& source, const CropPlan& plan,
                           Filter filter) {
  const bool la = source.mode == PilMode::kLa;
  Image colour = rgb;
  const size_t pixels = static_cast<size_t>(rgb.width) * rgb.height;
  for (size_t i = 0; i < pixels; ++i) {
    for (int c = 0; c < 3; ++c)
      colour.rgb[3 * i + c] = muldiv255(rgb.rgb[3 * i + c], source.extra[i]);
  }
  const Image alpha = plane_image(source.extra, 1, 0, rgb.width, rgb.height);
  Image out = resize(colour, plan.width, plan.height, filter, plan.kept);
  const Image a = resize(alpha, plan.width, plan.height, filter, plan.kept);
  const size_t kept = static_cast<size_t>(out.width) * out.height;
  for (size_t i = 0; i < kept; ++i) {
    const unsigned alpha_value = a.rgb[3 * i];
    for (int c = 0; c < 3; ++c) {
      uint8_t& v = out.rgb[3 * i + c];
      if (la) {
        // lA2la: 0 where alpha is 0.
        const unsigned p = alpha_value == 0 ? 0 : 255u * v / alpha_value;
        v = static_cast<uint8_t>(p > 255 ? 255 : p);
      } else if (alpha_value != 0 && alpha_value != 255) {
        const unsigned p = 255u * v / alpha_value;  // rgba2rgbA.
        v = static_cast<uint8_t>(p > 255 ? 255 : p);
      }
    }
  }
  return out;
}

// "CMYK": resize the four channels, then Pillow's cmyk2rgb.
Image resize_cmyk(const SourcePixels& source, int width, int height, const CropPlan& plan,
                  Filter filter) {
  Image cmy;
  cmy.width = width, cmy.height = height;
  const size_t pixels = static_cast<size_t>(width) * height;
  cmy.rgb.resize(pixels * 3);
  for (size_t i = 0; i < pixels; ++i) {
    for (int c = 0; c < 3; ++c) cmy.rgb[3 * i + c] = source.extra[4 * i + c];
  }
  const Image k = plane_image(source.extra, 4, 3, width, height);
  Image out = resize(cmy, plan.width, plan.height, filter, plan.kept);
  const Image kk = resize(k, plan.width, plan.height, filter, plan.kept);
  const size_t kept = static_cast<size_t>(out.width) * out.height;
  for (size_t i = 0; i < kept; ++i) {
    for (int c = 0; c < 3; ++c)
      out.rgb[3 * i + c] = cmyk_channel(out.rgb[3 * i + c], kk.rgb[3 * i]);
  }
  return out;
}

}  // namespace

Image resize_and_crop_as_opened(const Image& rgb, const SourcePixels& source,
                                const PreprocessConfig& config) {
  const CropPlan plan = plan_crop(rgb.width, rgb.height, config);
  const auto filter = static_cast<Filter>(config.resample);
  // Image.resize to the image's own size returns a copy before any conversion.
  if (plan.width == rgb.width && plan.height == rgb.height) return resize_and_crop(rgb, config);
  switch (source.mode) {
    case PilMode::kP:
    case PilMode::k1:
      // Pillow resizes palette and bilevel images with NEAREST whatever the filter asked;
      // picking pixels commutes with the palette lookup, so the RGB canvas is resized.
      return place_in_crop(resize_nearest(rgb, plan.width, plan.height, plan.kept), plan);
    case PilMode::kLa:
    case PilMode::kRgba:
      return place_in_crop(resize_premultiplied(rgb, source, plan, filter), plan);
    case PilMode::kCmyk:
      return place_in_crop(resize_cmyk(source, rgb.width, rgb.height, plan, filter), plan);
    case PilMode::kI:
      return place_in_crop(resize_int32(source.samples, rgb.width, rgb.height, plan.width,
                                        plan.height, filter, plan.kept),
                           plan);
    case PilMode::kRgb:
    case PilMode::kL:
      break;
  }
  return resize_and_crop(rgb, config);
}

}  // namespace clipembed::image
