#include "clipembed/preprocess.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "image/preprocess_plan.h"
#include "image/resize.h"
#include "io/file.h"

namespace clipembed {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::kModelInvalid, source + ": " + what);
}

int positive_int(const json& v, const std::string& source, const char* key) {
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > 65536) {
    bad(source, std::string("'") + key + "' must be a positive integer");
  }
  return v.get<int>();
}

bool flag(const json& j, const char* key, bool fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) bad(source, std::string("'") + key + "' must be true or false");
  return j[key].get<bool>();
}

std::array<float, 3> triple(const json& j, const char* key, std::array<float, 3> fallback,
                            const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (v.is_number()) {
    float x = v.get<float>();
    return {x, x, x};
  }
  if (!v.is_array() || v.size() != 3) bad(source, std::string("'") + key + "' must have 3 values");
  std::array<float, 3> out{};
  for (int i = 0; i < 3; ++i) {
    if (!v[i].is_number()) bad(source, std::string("'") + key + "' must hold numbers");
    out[i] = v[i].get<float>();
  }
  return out;
}

int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

PreprocessConfig PreprocessConfig::parse(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) bad(source, "not a JSON object");
  PreprocessConfig c;
  // SiglipImageProcessor has no crop and other defaults; it ignores a do_center_crop key.
  const bool siglip = j.contains("image_processor_type") && j["image_processor_type"].is_string() &&
                      j["image_processor_type"].get<std::string>() == "SiglipImageProcessor";
  if (siglip) {
    c.do_center_crop = false;
    c.shortest_edge = 0;
    c.resize_height = c.resize_width = 224;
    c.mean = c.std = {0.5f, 0.5f, 0.5f};
  }
  c.do_resize = flag(j, "do_resize", c.do_resize, source);
  if (!siglip) c.do_center_crop = flag(j, "do_center_crop", c.do_center_crop, source);
  c.do_rescale = flag(j, "do_rescale", c.do_rescale, source);
  c.do_normalize = flag(j, "do_normalize", c.do_normalize, source);
  if (j.contains("size") && !j["size"].is_null()) {
    const json& s = j["size"];
    if (s.is_number()) {
      c.shortest_edge = positive_int(s, source, "size");
    } else if (s.is_object() && s.contains("shortest_edge")) {
      c.shortest_edge = positive_int(s["shortest_edge"], source, "size.shortest_edge");
    } else if (s.is_object() && s.contains("height") && s.contains("width")) {
      c.shortest_edge = 0;
      c.resize_height = positive_int(s["height"], source, "size.height");
      c.resize_width = positive_int(s["width"], source, "size.width");
    } else {
      bad(source, "'size' must be a number, {shortest_edge} or {height, width}");
    }
  }
  if (j.contains("crop_size") && !j["crop_size"].is_null()) {
    const json& s = j["crop_size"];
    if (s.is_number()) {
      c.crop_height = c.crop_width = positive_int(s, source, "crop_size");
    } else if (s.is_object() && s.contains("height") && s.contains("width")) {
      c.crop_height = positive_int(s["height"], source, "crop_size.height");
      c.crop_width = positive_int(s["width"], source, "crop_size.width");
    } else {
      bad(source, "'crop_size' must be a number or {height, width}");
    }
  }
  if (j.contains("rescale_factor") && !j["rescale_factor"].is_null()) {
    if (!j["rescale_factor"].is_number()) bad(source, "'rescale_factor' must be a number");
    c.rescale_factor = j["rescale_factor"].get<double>();
  }
  c.mean = triple(j, "image_mean", c.mean, source);
  c.std = triple(j, "image_std", c.std, source);
  for (float s : c.std) {
    if (!(s > 0.0f)) bad(source, "'image_std' values must be positive");
  }
  if (j.contains("resample") && !j["resample"].is_null()) {
    if (!j["resample"].is_number_integer()) bad(source, "'resample' must be an integer");
    c.resample = j["resample"].get<int>();
    if (c.resample != 2 && c.resample != 3) {
      throw Error(ErrorCode::kUnsupported,
                  source + ": resample " + j["resample"].dump() +
                      " is not supported (2 bilinear, 3 bicubic: Pillow's filters)");
    }
  }
  return c;
}

PreprocessConfig PreprocessConfig::parse_file(const std::string& path) {
  std::vector<uint8_t> bytes = io::read_file(path);
  return parse(std::string(bytes.begin(), bytes.end()), path);
}

int PreprocessConfig::output_height() const {
  if (do_center_crop) return crop_height;
  return shortest_edge == 0 ? resize_height : shortest_edge;
}

int PreprocessConfig::output_width() const {
  if (do_center_crop) return crop_width;
  return shortest_edge == 0 ? resize_width : shortest_edge;
}

namespace image {

// Python's round(v / 2) for an integer v: half to even, as torchvision's center_crop rounds.
int64_t half_to_even_div2(int64_t v) {
  const int64_t floor = floor_div2(v);
  return (v % 2 != 0 && floor % 2 != 0) ? floor + 1 : floor;
}

CropPlan plan_crop(int width, int height, const PreprocessConfig& config) {
  CropPlan p;
  p.width = width, p.height = height;
  if (config.do_resize) {
    if (config.shortest_edge == 0) {
      p.width = config.resize_width, p.height = config.resize_height;
    } else {
      // transformers and torchvision: new_long = int(size * long / short), a float division then
      // truncation.
      const int64_t shorter = std::min(width, height);
      const int64_t longer = std::max(width, height);
      const int scaled = static_cast<int>(static_cast<double>(config.shortest_edge * longer) /
                                          static_cast<double>(shorter));
      const bool portrait = width <= height;
      p.width = portrait ? config.shortest_edge : scaled;
      p.height = portrait ? scaled : config.shortest_edge;
    }
    if (p.width < 1 || p.height < 1) {
      throw Error(ErrorCode::kImageDecode, "image is too thin to resize");
    }
  }
  if (!config.do_center_crop) {
    p.kept = Window{0, 0, p.width, p.height};
    p.crop_width = p.width, p.crop_height = p.height;
    return p;
  }
  p.crop_width = config.crop_width, p.crop_height = config.crop_height;
  // transformers' center_crop: offsets (size - crop) // 2; torchvision's (open_clip):
  // int(round((size - crop) / 2.0)). Zero padding where the image is smaller.
  const bool open_clip = config.style == PreprocessStyle::kOpenClip;
  p.top = open_clip ? half_to_even_div2(int64_t{p.height} - p.crop_height)
                    : floor_div2(int64_t{p.height} - p.crop_height);
  p.left = open_clip ? half_to_even_div2(int64_t{p.width} - p.crop_width)
                     : floor_div2(int64_t{p.width} - p.crop_width);
  // The part of the resized image the crop keeps; only that part is resized.
  const int64_t x0 = std::max<int64_t>(0, p.left), y0 = std::max<int64_t>(0, p.top);
  p.kept = Window{static_cast<int>(x0), static_cast<int>(y0),
                  static_cast<int>(std::min<int64_t>(p.width, p.left + p.crop_width) - x0),
                  static_cast<int>(std::min<int64_t>(p.height, p.top + p.crop_height) - y0)};
  return p;
}

Image place_in_crop(Image kept, const CropPlan& plan) {
  if (kept.width == plan.crop_width && kept.height == plan.crop_height) {
    return kept;  // The usual case: the crop lies inside the resized image.
  }
  Image crop;
  crop.width = plan.crop_width;
  crop.height = plan.crop_height;
  crop.rgb.assign(static_cast<size_t>(crop.width) * crop.height * 3, 0);
  // Rows and columns of the crop outside the image stay 0 (the processors' padding).
  const int64_t y0 = plan.kept.y - plan.top, x0 = plan.kept.x - plan.left;
  const size_t row_bytes = static_cast<size_t>(plan.kept.width) * 3;
  for (int y = 0; y < plan.kept.height; ++y) {
    std::memcpy(&crop.rgb[((y0 + y) * crop.width + x0) * 3], kept.rgb.data() + y * row_bytes,
                row_bytes);
  }
  return crop;
}

}  // namespace image

Image resize_and_crop(const Image& image, const PreprocessConfig& config) {
  const image::CropPlan plan = image::plan_crop(image.width, image.height, config);
  if (!config.do_center_crop && !config.do_resize) return image;
  // Without do_resize, the plan's size is the image's, so no pass runs and this copies the window.
  return image::place_in_crop(image::resize(image, plan.width, plan.height,
                                            static_cast<image::Filter>(config.resample), plan.kept),
                              plan);
}

void to_pixel_values(const Image& crop, const PreprocessConfig& config, float* out) {
  // transformers rescales in float64 then casts to float32, torchvision's ToTensor divides by 255
  // in float32 (open_clip); both normalise in float32. A table per channel gives the same values
  // for each of the 256 inputs.
  const bool open_clip = config.style == PreprocessStyle::kOpenClip;
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = open_clip           ? static_cast<float>(v) / 255.0f
                : config.do_rescale ? static_cast<float>(v * config.rescale_factor)
                                    : static_cast<float>(v);
      if (config.do_normalize) x = (x - config.mean[c]) / config.std[c];
      table[c][v] = x;
    }
  }
  const size_t plane = static_cast<size_t>(crop.width) * crop.height;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) out[c * plane + i] = table[c][crop.rgb[3 * i + c]];
  }
}

}  // namespace clipembed
