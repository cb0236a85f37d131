// Internal: where the resize and the crop of a preprocessing fall, shared by the two orders of
// steps (transformers': RGB first; open_clip's: resize as opened, then RGB).
#pragma once

#include <cstdint>

#include "clipembed/preprocess.h"
#include "image/resize.h"

namespace clipembed::image {

struct CropPlan {
  int width = 0, height = 0;            // The resized image.
  int crop_width = 0, crop_height = 0;  // The output.
  int64_t top = 0, left = 0;            // The crop's offset in the resized image (may be < 0).
  Window kept;                          // The part of the resized image inside the crop.
};

// The plan for a width x height image under `config`. Throws Error(kImageDecode) for an image too
// thin to resize.
CropPlan plan_crop(int width, int height, const PreprocessConfig& config);

// `kept` (the plan's window of the resized image) placed in the crop, zero around it.
Image place_in_crop(Image kept, const CropPlan& plan);

}  // namespace clipembed::image
