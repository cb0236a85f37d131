// clipembed/preprocess.h: the preprocessing of transformers' CLIPImageProcessor and
// SiglipImageProcessor (the latter squashes to height x width, without a crop).
//
//   clipembed::PreprocessConfig pre = clipembed::PreprocessConfig::parse_file(
//       "model/preprocessor_config.json");
//   clipembed::Image crop = clipembed::resize_and_crop(image, pre);  // what the model sees
//   std::vector<float> pixels(3 * crop.width * crop.height);
//   clipembed::to_pixel_values(crop, pre, pixels.data());           // channels first
//
// Thread-safe: configs are plain values; the functions keep no state.
#pragma once

#include <array>
#include <string>

#include "clipembed/image.h"

namespace clipembed {

// Whose steps turn an image into pixels. kTransformers: convert to RGB, resize, crop at
// (size - crop) // 2, rescale in float64. kOpenClip (open_clip's eval transform): resize the image
// as Pillow opened it (palette and 1-bit images with NEAREST, RGBA and LA premultiplied, CMYK in
// CMYK, 16-bit grey in 32-bit integers), crop at Python's round((size - crop) / 2), convert to
// RGB, then float32(v) / 255.
enum class PreprocessStyle { kTransformers, kOpenClip };

struct PreprocessConfig {
  PreprocessStyle style = PreprocessStyle::kTransformers;
  bool do_resize = true;
  int resample = 3;  // Pillow's filter: 3 bicubic (CLIP, SigLIP), 2 bilinear (SigLIP 2).
  // Resize target: the shortest edge becomes `shortest_edge` (the long edge is scaled with
  // truncation, as transformers does), or, when shortest_edge is 0, exactly height x width.
  int shortest_edge = 224;
  int resize_height = 0;
  int resize_width = 0;
  bool do_center_crop = true;
  int crop_height = 224;
  int crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};

  // Parses preprocessor_config.json text; missing keys keep the defaults of the processor it
  // names (image_processor_type: CLIPImageProcessor's, or SiglipImageProcessor's: 224 x 224, no
  // crop, mean and std 0.5). Throws Error(kModelInvalid) on malformed JSON or values,
  // kUnsupported for a resample filter other than bilinear (2) or bicubic (3). `source` names the
  // file in messages.
  static PreprocessConfig parse(const std::string& json_text, const std::string& source);
  static PreprocessConfig parse_file(const std::string& path);

  // The size of the tensor the model receives.
  int output_height() const;
  int output_width() const;
};

// Resize (Pillow-exact, with the config's filter) and center crop, in 8-bit RGB: byte-identical
// to the image that the processor rescales and normalises.
Image resize_and_crop(const Image& image, const PreprocessConfig& config);

// Rescales and normalises a crop of output size into `out`, channels first (3 x H x W floats).
void to_pixel_values(const Image& crop, const PreprocessConfig& config, float* out);

}  // namespace clipembed
