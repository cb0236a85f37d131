// The AVX-512 path of the horizontal resampling sums (compiled with the AVX-512 flags): four taps
// per 512-bit vector, one pixel's three channels (and a spare lane) in each 128-bit quarter, the
// quarters added at the end; the vertical sums use the AVX2 path. The sums are int32 and exact,
// so adding the taps in another grouping gives the scalar path's bytes (two's-complement addition
// is associative even past overflow).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/resample.h"

namespace clipembed::kernels {

void resample_horizontal_row_avx512(const uint8_t* in, int64_t in_width, int64_t out_width,
                                    const int* first, const int* count, const int32_t* weights,
                                    int64_t capacity, uint8_t* out) {
  // Bytes R G B of four pixels into the low byte of lanes 0-2, 4-6, 8-10, 12-14; lanes 3, 7, 11
  // and 15 take a zero byte (their sums are never stored).
  const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  // Tap t's weight into every lane of quarter t.
  const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m128i half = _mm_set1_epi32(int32_t{1} << (kResampleBits - 1));
  const uint8_t* row_end = in + in_width * 3;
  for (int64_t x = 0; x < out_width; ++x) {
    const int32_t* w = weights + x * capacity;
    const uint8_t* p = in + static_cast<int64_t>(first[x]) * 3;
    const int taps = count[x];
    const int groups = (taps + 3) / 4;
    __m512i sum = _mm512_setzero_si512();
    auto add_group = [&](__m128i bytes, __m128i tap_weights) {
      const __m512i values = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(bytes, spread));
      const __m512i spread_weights =
          _mm512_permutexvar_epi32(quarter, _mm512_castsi128_si512(tap_weights));
      sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(values, spread_weights));
    };
    // Whole groups of four read 16 bytes and four weights: the weights past count are 0 (the
    // layout's promise), so the extra pixels add nothing. A group whose bytes would pass the
    // row's end reads only its taps' bytes, under a mask.
    int g = 0;
    for (; g < groups && p + 12 * g + 16 <= row_end; ++g) {
      add_group(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12 * g)),
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 4 * g)));
    }
    for (; g < groups; ++g) {
      const int n = std::min(4, taps - 4 * g);
      add_group(_mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << (3 * n)) - 1u), p + 12 * g),
                _mm_maskz_loadu_epi32(static_cast<__mmask8>((1u << n) - 1u), w + 4 * g));
    }
    const __m256i halves =
        _mm256_add_epi32(_mm512_castsi512_si256(sum), _mm512_extracti64x4_epi64(sum, 1));
    __m128i total =
        _mm_add_epi32(_mm256_castsi256_si128(halves), _mm256_extracti128_si256(halves, 1));
    total = _mm_add_epi32(total, half);
    // Pillow's clip of each lane, as in the AVX2 path.
    const __m128i shifted = _mm_srai_epi32(total, kResampleBits);
    const __m128i words = _mm_packus_epi32(shifted, shifted);
    const uint32_t rgb = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_packus_epi16(words, words)));
    std::memcpy(out + 3 * x, &rgb, 3);
  }
}

}  // namespace clipembed::kernels
