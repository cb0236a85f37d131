// Pillow's separable resampling (libImaging/Resample.c), written out by hand: no library
// reproduces Pillow's coefficients and rounding, and the reference embeddings depend on every byte.
// The coefficients are computed here; the sums run in kernels/resample (scalar and AVX2).
#include "image/resize.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/isa.h"
#include "kernels/resample.h"

namespace clipembed::image {
namespace {

constexpr int kPrecisionBits = kernels::kResampleBits;  // 32 - 8 - 2, as Pillow's.

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Per output index: the first input index, the number of taps, and fixed-point weights.
struct Coefficients {
  int taps_capacity = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;  // out_size x taps_capacity
};

Coefficients precompute(int in_size, int out_size) {
  constexpr double kSupport = 2.0;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filter_scale;
  Coefficients c;
  c.taps_capacity = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.taps_capacity, 0);
  std::vector<double> k(c.taps_capacity);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    // Pillow truncates (x + 0.5) here, which differs from lround for negative x; keep it exact.
    int xmin = static_cast<int>(center - support + 0.5);  // NOLINT(bugprone-incorrect-roundings)
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);  // NOLINT(bugprone-incorrect-roundings)
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      total += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      // Pillow rounds half away from zero when converting to fixed point.
      c.weights[static_cast<size_t>(xx) * c.taps_capacity + x] = static_cast<int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// Horizontal pass over rows [row_begin, row_begin + rows) of `in`.
Image resample_horizontal(const Image& in, int row_begin, int rows, int width) {
  const Coefficients c = precompute(in.width, width);
  const kernels::Isa isa = kernels::active_isa();
  Image out;
  out.width = width;
  out.height = rows;
  out.rgb.resize(static_cast<size_t>(width) * rows * 3);
  for (int y = 0; y < rows; ++y) {
    kernels::resample_horizontal_row(
        isa, in.rgb.data() + static_cast<size_t>(row_begin + y) * in.width * 3, in.width, width,
        c.first.data(), c.count.data(), c.weights.data(), c.taps_capacity,
        out.rgb.data() + static_cast<size_t>(y) * width * 3);
  }
  return out;
}

// Vertical pass; `c` indexes rows of `in` shifted by `row_offset`.
Image resample_vertical(const Image& in, const Coefficients& c, int row_offset, int height) {
  const kernels::Isa isa = kernels::active_isa();
  Image out;
  out.width = in.width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(in.width) * height * 3);
  const size_t stride = static_cast<size_t>(in.width) * 3;
  for (int yy = 0; yy < height; ++yy) {
    kernels::resample_vertical_row(
        isa, in.rgb.data() + static_cast<size_t>(c.first[yy] - row_offset) * stride,
        static_cast<int64_t>(stride), static_cast<int64_t>(stride),
        &c.weights[static_cast<size_t>(yy) * c.taps_capacity], c.count[yy],
        out.rgb.data() + static_cast<size_t>(yy) * stride);
  }
  return out;
}

}  // namespace

Image resize_bicubic(const Image& in, int width, int height) {
  const bool need_horizontal = width != in.width;
  const bool need_vertical = height != in.height;
  if (!need_horizontal && !need_vertical) return in;
  const Coefficients vertical = precompute(in.height, height);
  if (!need_horizontal) return resample_vertical(in, vertical, 0, height);
  // Like Pillow, the horizontal pass only covers the rows the vertical pass will read.
  const int first_row = vertical.first[0];
  const int last_row = vertical.first[height - 1] + vertical.count[height - 1];
  Image temp = need_vertical ? resample_horizontal(in, first_row, last_row - first_row, width)
                             : resample_horizontal(in, 0, in.height, width);
  if (!need_vertical) return temp;
  return resample_vertical(temp, vertical, first_row, height);
}

}  // namespace clipembed::image
