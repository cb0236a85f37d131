// The AVX2 path of the resampling sums (compiled with -mavx2 -mfma): eight columns per vector in
// the vertical pass; in the horizontal one, four taps per two 256-bit vectors, one pixel's three
// channels (and a spare lane) in each 128-bit half. The same exact int32 sums as the scalar path,
// so the same bytes.
#include <immintrin.h>

#include <cstring>

#include "kernels/resample.h"

namespace clipembed::kernels {
namespace {

// Pillow's clip of each lane: an arithmetic shift, then unsigned saturation to a byte (a sum at
// or below 0 shifts to 0 or -1, one at or above 2^30 to 256 or more).
__m128i clip_lanes(__m128i sum) {
  const __m128i shifted = _mm_srai_epi32(sum, kResampleBits);
  const __m128i words = _mm_packus_epi32(shifted, shifted);
  return _mm_packus_epi16(words, words);
}

}  // namespace

void resample_vertical_row_avx2(const uint8_t* rows, int64_t stride, int64_t width,
                                const int32_t* weights, int taps, uint8_t* out) {
  const __m256i half = _mm256_set1_epi32(int32_t{1} << (kResampleBits - 1));
  int64_t i = 0;
  for (; i + 8 <= width; i += 8) {
    __m256i sum = half;
    for (int t = 0; t < taps; ++t) {
      const __m256i values = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(rows + t * stride + i)));
      sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(values, _mm256_set1_epi32(weights[t])));
    }
    const __m128i low = clip_lanes(_mm256_castsi256_si128(sum));
    const __m128i high = clip_lanes(_mm256_extracti128_si256(sum, 1));
    const uint32_t lo = static_cast<uint32_t>(_mm_cvtsi128_si32(low));
    const uint32_t hi = static_cast<uint32_t>(_mm_cvtsi128_si32(high));
    std::memcpy(out + i, &lo, 4);
    std::memcpy(out + i + 4, &hi, 4);
  }
  if (i < width) {
    resample_vertical_row_scalar(rows + i, stride, width - i, weights, taps, out + i);
  }
}

void resample_horizontal_row_avx2(const uint8_t* in, int64_t in_width, int64_t out_width,
                                  const int* first, const int* count, const int32_t* weights,
                                  int64_t capacity, uint8_t* out) {
  const __m128i half = _mm_set1_epi32(int32_t{1} << (kResampleBits - 1));
  // Four pixels' R G B into lanes 0-2, 4-6, 8-10, 12-14 (lanes 3, 7, 11, 15 zero), and each of
  // taps 0-1 and 2-3's weights into its 128-bit half.
  const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  const __m256i low_taps = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i high_taps = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  const uint8_t* row_end = in + in_width * 3;
  for (int64_t x = 0; x < out_width; ++x) {
    const int32_t* w = weights + x * capacity;
    const uint8_t* p = in + static_cast<int64_t>(first[x]) * 3;
    const int taps = count[x];
    // Whole groups of four taps while 16 bytes stay inside the row (the weights past the count
    // are 0, so the extra pixels add nothing); the int32 sums are exact, so grouping the taps
    // differently gives the scalar path's bytes.
    __m256i sums = _mm256_setzero_si256();
    int t = 0;
    for (; t < taps && p + 3 * t + 16 <= row_end; t += 4) {
      const __m128i bytes =
          _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 3 * t)), spread);
      const __m256i four =
          _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + t)));
      sums =
          _mm256_add_epi32(sums, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes),
                                                    _mm256_permutevar8x32_epi32(four, low_taps)));
      sums = _mm256_add_epi32(
          sums, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(bytes, bytes)),
                                   _mm256_permutevar8x32_epi32(four, high_taps)));
    }
    __m128i sum = _mm_add_epi32(
        _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1)), half);
    // The taps left near the row's end, one at a time: a tap reads four bytes (its pixel and the
    // next one's red, which lands in the spare lane); the row's last pixel is read as three,
    // since nothing may follow it.
    const int whole = first[x] + taps < in_width ? taps : taps - 1;
    for (; t < whole; ++t) {
      int32_t pixel;
      std::memcpy(&pixel, p + 3 * t, 4);
      const __m128i values = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(pixel));
      sum = _mm_add_epi32(sum, _mm_mullo_epi32(values, _mm_set1_epi32(w[t])));
    }
    if (t < taps) {
      const uint8_t* last = p + 3 * t;
      const int32_t pixel = last[0] | last[1] << 8 | last[2] << 16;
      const __m128i values = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(pixel));
      sum = _mm_add_epi32(sum, _mm_mullo_epi32(values, _mm_set1_epi32(w[t])));
    }
    const uint32_t rgb = static_cast<uint32_t>(_mm_cvtsi128_si32(clip_lanes(sum)));
    std::memcpy(out + 3 * x, &rgb, 3);
  }
}

}  // namespace clipembed::kernels
