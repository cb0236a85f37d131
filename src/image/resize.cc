// Pillow's separable resampling (libImaging/Resample.c), written out by hand: no library
// reproduces Pillow's coefficients and rounding, and the reference embeddings depend on every byte.
// The coefficients are computed here; the sums run in kernels/resample (scalar and AVX2).
#include "image/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/isa.h"
#include "kernels/resample.h"

namespace clipembed::image {
namespace {

constexpr int kPrecisionBits = kernels::kResampleBits;  // 32 - 8 - 2, as Pillow's.

double bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

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

Coefficients precompute(int in_size, int out_size, Filter filter) {
  // Rounded up to whole groups of four taps, zero past each output's count (kernels/resample.h).
  const Taps taps = resample_taps(in_size, out_size, filter, 4);
  Coefficients c;
  c.taps_capacity = taps.capacity;
  c.first = taps.first;
  c.count = taps.count;
  c.weights.assign(taps.weights.size(), 0);
  for (size_t i = 0; i < taps.weights.size(); ++i) {
    const double w = taps.weights[i];
    // Pillow rounds half away from zero when converting to fixed point.
    c.weights[i] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                              : 0.5 + w * (1 << kPrecisionBits));
  }
  return c;
}

// The rows between the two passes are kept per thread: a 640 x 480 image's are 320 KB, past
// malloc's mapping threshold, and a fresh mapping for every image costs page faults and zeroing
// on top of the sums. A buffer grown past kKeptScratchBytes (a huge image) is released after its
// image instead of being held for good.
constexpr size_t kKeptScratchBytes = size_t{4} << 20;

}  // namespace

Taps resample_taps(int in_size, int out_size, Filter filter, int capacity_multiple) {
  const double kernel_support = filter == Filter::kBilinear ? 1.0 : 2.0;
  double (*const kernel)(double) = filter == Filter::kBilinear ? bilinear : bicubic;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = kernel_support * filter_scale;
  Taps t;
  const int taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.capacity = (taps + capacity_multiple - 1) / capacity_multiple * capacity_multiple;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.capacity, 0.0);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    // Pillow truncates (x + 0.5) here, which differs from lround for negative x; keep it exact.
    int xmin = static_cast<int>(center - support + 0.5);  // NOLINT(bugprone-incorrect-roundings)
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);  // NOLINT(bugprone-incorrect-roundings)
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &t.weights[static_cast<size_t>(xx) * t.capacity];
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = kernel((x + xmin - center + 0.5) * ss);
      total += k[x];
    }
    for (int x = 0; x < xmax && total != 0.0; ++x) k[x] /= total;
    t.first[xx] = xmin;
    t.count[xx] = xmax;
  }
  return t;
}

Image resize(const Image& in, int width, int height, Filter filter) {
  return resize(in, width, height, filter, Window{0, 0, width, height});
}

Image resize(const Image& in, int width, int height, Filter filter, const Window& window) {
  const bool need_horizontal = width != in.width;
  const bool need_vertical = height != in.height;
  const kernels::Isa isa = kernels::active_isa();
  Image out;
  out.width = window.width;
  out.height = window.height;
  out.rgb.resize(static_cast<size_t>(window.width) * window.height * 3);
  const size_t out_stride = static_cast<size_t>(window.width) * 3;
  // Like Pillow, the horizontal pass only covers the rows the vertical pass will read: here only
  // those the window's rows read, and only the window's columns (each output column and row is
  // its own sum, so a window of the whole resize is the same bytes).
  Coefficients vertical;
  int row_begin = window.y, row_end = window.y + window.height;
  if (need_vertical) {
    vertical = precompute(in.height, height, filter);
    const int last = window.y + window.height - 1;
    row_begin = vertical.first[window.y];
    row_end = vertical.first[last] + vertical.count[last];
  }
  const uint8_t* rows = nullptr;  // Row row_begin of the horizontal pass, rows_stride apart.
  thread_local std::vector<uint8_t> scratch;
  if (need_horizontal) {
    // The window's columns of the horizontal pass: its coefficients from column window.x on.
    const Coefficients horizontal = precompute(in.width, width, filter);
    const int* first = horizontal.first.data() + window.x;
    const int* count = horizontal.count.data() + window.x;
    const int32_t* weights =
        horizontal.weights.data() + static_cast<size_t>(window.x) * horizontal.taps_capacity;
    uint8_t* target = out.rgb.data();
    if (need_vertical) {
      scratch.resize(std::max(scratch.size(), out_stride * (row_end - row_begin)));
      target = scratch.data();
    }
    for (int y = row_begin; y < row_end; ++y) {
      kernels::resample_horizontal_row(isa, in.rgb.data() + static_cast<size_t>(y) * in.width * 3,
                                       in.width, window.width, first, count, weights,
                                       horizontal.taps_capacity,
                                       target + static_cast<size_t>(y - row_begin) * out_stride);
    }
    rows = target;
  } else {
    // The horizontal pass is skipped, as Pillow skips it: the window's columns of the input.
    rows = in.rgb.data() + static_cast<size_t>(row_begin) * in.width * 3 + size_t{3} * window.x;
  }
  const size_t rows_stride = need_horizontal ? out_stride : static_cast<size_t>(in.width) * 3;
  if (need_vertical) {
    for (int yy = window.y; yy < window.y + window.height; ++yy) {
      kernels::resample_vertical_row(
          isa, rows + static_cast<size_t>(vertical.first[yy] - row_begin) * rows_stride,
          static_cast<int64_t>(rows_stride), static_cast<int64_t>(out_stride),
          &vertical.weights[static_cast<size_t>(yy) * vertical.taps_capacity], vertical.count[yy],
          out.rgb.data() + static_cast<size_t>(yy - window.y) * out_stride);
    }
  } else if (!need_horizontal) {
    for (int y = 0; y < window.height; ++y) {
      std::memcpy(out.rgb.data() + y * out_stride, rows + y * rows_stride, out_stride);
    }
  }
  if (scratch.capacity() > kKeptScratchBytes) std::vector<uint8_t>().swap(scratch);
  return out;
}

}  // namespace clipembed::image
