#include "kernels/resample.h"

namespace clipembed::kernels {

// The vertical sums' AVX2 path serves AVX-512 CPUs too: they are a small part of preprocessing.
void resample_vertical_row(Isa isa, const uint8_t* rows, int64_t stride, int64_t width,
                           const int32_t* weights, int taps, uint8_t* out) {
  if (isa == Isa::kScalar)
    return resample_vertical_row_scalar(rows, stride, width, weights, taps, out);
  resample_vertical_row_avx2(rows, stride, width, weights, taps, out);
}

void resample_horizontal_row(Isa isa, const uint8_t* in, int64_t in_width, int64_t out_width,
                             const int* first, const int* count, const int32_t* weights,
                             int64_t capacity, uint8_t* out) {
  if (isa == Isa::kScalar) {
    return resample_horizontal_row_scalar(in, in_width, out_width, first, count, weights, capacity,
                                          out);
  }
  if (isa == Isa::kAvx512) {
    return resample_horizontal_row_avx512(in, in_width, out_width, first, count, weights, capacity,
                                          out);
  }
  resample_horizontal_row_avx2(in, in_width, out_width, first, count, weights, capacity, out);
}

void resample_vertical_row_scalar(const uint8_t* rows, int64_t stride, int64_t width,
                                  const int32_t* weights, int taps, uint8_t* out) {
  for (int64_t i = 0; i < width; ++i) {
    int32_t sum = int32_t{1} << (kResampleBits - 1);
    for (int t = 0; t < taps; ++t) sum += rows[t * stride + i] * weights[t];
    out[i] = resample_clip(sum);
  }
}

void resample_horizontal_row_scalar(const uint8_t* in, int64_t in_width, int64_t out_width,
                                    const int* first, const int* count, const int32_t* weights,
                                    int64_t capacity, uint8_t* out) {
  (void)in_width;
  for (int64_t x = 0; x < out_width; ++x) {
    const int32_t* w = weights + x * capacity;
    const uint8_t* p = in + static_cast<int64_t>(first[x]) * 3;
    int32_t s0 = int32_t{1} << (kResampleBits - 1), s1 = s0, s2 = s0;
    for (int t = 0; t < count[x]; ++t) {
      s0 += p[3 * t] * w[t];
      s1 += p[3 * t + 1] * w[t];
      s2 += p[3 * t + 2] * w[t];
    }
    out[3 * x] = resample_clip(s0), out[3 * x + 1] = resample_clip(s1),
            out[3 * x + 2] = resample_clip(s2);
  }
}

}  // namespace clipembed::kernels
