// Internal: Pillow's resampling, reproduced exactly.
#pragma once

#include <vector>

#include "clipembed/image.h"

namespace clipembed::image {

// Pillow's resampling filters, by their PIL numbers (preprocessor_config.json's "resample").
enum class Filter {
  kBilinear = 2,  // Triangle, support 1.
  kBicubic = 3,   // a = -0.5, support 2.
};

// Pillow's resampling coefficients for one axis (libImaging/Resample.c's precompute_coeffs):
// per output index the first input index and the number of taps, and the taps' weights
// normalised to sum 1, `capacity` apart (rounded up to a multiple of `capacity_multiple`, zero
// past each output's count). The 8-bit path turns them into fixed point; the 32-bit path ("I")
// uses them as they are.
struct Taps {
  int capacity = 0;
  std::vector<int> first, count;
  std::vector<double> weights;  // out_size x capacity
};
Taps resample_taps(int in_size, int out_size, Filter filter, int capacity_multiple = 1);

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
