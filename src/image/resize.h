// Internal: Pillow's resampling, reproduced exactly.
#pragma once

#include "clipembed/image.h"

namespace clipembed::image {

// Resizes with Pillow's BICUBIC filter (a = -0.5, support widened by the reduction factor for
// antialiasing, 22-bit fixed-point coefficients, 8-bit intermediate rows), giving byte-identical
// results to Image.resize((width, height), Image.BICUBIC). A pass whose size does not change is
// skipped, as in Pillow. Requires width, height >= 1.
Image resize_bicubic(const Image& in, int width, int height);

// A rectangle of the resized image: columns [x, x + width), rows [y, y + height).
struct Window {
  int x = 0, y = 0, width = 0, height = 0;
};

// Only `window` (non-empty, inside width x height) of resize_bicubic(in, width, height), the same
// bytes, computed without the rest: the centre crop of a resize needs a quarter less work.
Image resize_bicubic(const Image& in, int width, int height, const Window& window);

}  // namespace clipembed::image
