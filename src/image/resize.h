// Internal: Pillow's resampling, reproduced exactly.
#pragma once

#include "clipembed/image.h"

namespace clipembed::image {

// Pillow's resampling filters, by their PIL numbers (preprocessor_config.json's "resample").
enum class Filter {
  kBilinear = 2,  // Triangle, support 1.
  kBicubic = 3,   // a = -0.5, support 2.
};

// Resizes with one of Pillow's filters (support widened by the reduction factor for
// antialiasing, 22-bit fixed-point coefficients, 8-bit intermediate rows), giving byte-identical
// results to Image.resize((width, height), filter). A pass whose size does not change is
// skipped, as in Pillow. Requires width, height >= 1.
Image resize(const Image& in, int width, int height, Filter filter);

// A rectangle of the resized image: columns [x, x + width), rows [y, y + height).
struct Window {
  int x = 0, y = 0, width = 0, height = 0;
};

// Only `window` (non-empty, inside width x height) of resize(in, width, height, filter), the same
// bytes, computed without the rest: the centre crop of a resize needs a quarter less work.
Image resize(const Image& in, int width, int height, Filter filter, const Window& window);

}  // namespace clipembed::image
