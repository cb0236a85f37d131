// Internal kernel: the weighted sums of Pillow's 8-bit resampling (libImaging/Resample.c), in its
// fixed point: weights scaled by 2^kResampleBits, half a unit added, the sum shifted back and
// clipped to 0..255. image/resize.cc computes the taps and weights. Sums are in int32, as
// Pillow's are, and exact (Pillow's normalised weights keep |sum| below 2^31 for any 8-bit input),
// so every path gives the same bytes.
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace clipembed::kernels {

constexpr int kResampleBits = 22;

// Vertical taps: out[i] = clip(sum over t < taps of rows[t * stride + i] * weights[t]) for i in
// [0, width): `rows` is the first input row the output row reads.
void resample_vertical_row(Isa isa, const uint8_t* rows, int64_t stride, int64_t width,
                           const int32_t* weights, int taps, uint8_t* out);

// Horizontal taps over one RGB row of `in_width` pixels: for output pixel x in [0, out_width) and
// channel c, out[3x + c] = clip(sum over t < count[x] of in[3 (first[x] + t) + c] * w[t]) with
// w = weights + x * capacity. `capacity` is a multiple of 4 at or above every count, and each
// output's weights past its count are 0 (the SIMD paths multiply whole groups of four taps).
void resample_horizontal_row(Isa isa, const uint8_t* in, int64_t in_width, int64_t out_width,
                             const int* first, const int* count, const int32_t* weights,
                             int64_t capacity, uint8_t* out);

// The paths, for tests; the functions above dispatch to them.
void resample_vertical_row_scalar(const uint8_t* rows, int64_t stride, int64_t width,
                                  const int32_t* weights, int taps, uint8_t* out);
void resample_vertical_row_avx2(const uint8_t* rows, int64_t stride, int64_t width,
                                const int32_t* weights, int taps, uint8_t* out);
void resample_horizontal_row_scalar(const uint8_t* in, int64_t in_width, int64_t out_width,
                                    const int* first, const int* count, const int32_t* weights,
                                    int64_t capacity, uint8_t* out);
void resample_horizontal_row_avx2(const uint8_t* in, int64_t in_width, int64_t out_width,
                                  const int* first, const int* count, const int32_t* weights,
                                  int64_t capacity, uint8_t* out);
void resample_horizontal_row_avx512(const uint8_t* in, int64_t in_width, int64_t out_width,
                                    const int* first, const int* count, const int32_t* weights,
                                    int64_t capacity, uint8_t* out);

// Pillow's clip of a fixed-point sum to a byte (static: each ISA's file keeps its own copy).
static inline uint8_t resample_clip(int32_t sum) {
  if (sum >= (int32_t{1} << kResampleBits << 8)) return 255;
  if (sum <= 0) return 0;
  return static_cast<uint8_t>(sum >> kResampleBits);
}

}  // namespace clipembed::kernels
