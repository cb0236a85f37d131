// The AVX-512 path of dot_rows (this file alone is compiled with the AVX-512 flags):
// dot_rows_tiles.h with the sixteen lanes in one vector.
#include <immintrin.h>

#include "kernels/dot_rows.h"
#include "kernels/dot_rows_tiles.h"

namespace clipembed::kernels {
namespace {

struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static Mask first(int64_t count) { return static_cast<Mask>((1u << count) - 1u); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load(Mask mask, const float* p) { return _mm512_maskz_loadu_ps(mask, p); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static float sum16(const Vec parts[1]) {
    const __m256 eight = _mm256_add_ps(_mm512_castps512_ps256(parts[0]),
                                       _mm512_extractf32x8_ps(parts[0], 1));  // l + (l + 8)
    // l + (l + 4), then l + (l + 2), then lane 0 + lane 1.
    __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
    four = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(four, _mm_shuffle_ps(four, four, 1)));
  }
};

}  // namespace

void dot_rows_avx512(const float* queries, int64_t query_count, const float* rows,
                     int64_t row_count, int64_t dim, float* scores, int64_t ld) {
  // Sixteen of the thirty-two registers hold sums for four queries or, alone, eight rows'.
  if (query_count == 1) {
    return DotRowTiles<Avx512>::run<1, 8>(queries, query_count, rows, row_count, dim, scores, ld);
  }
  DotRowTiles<Avx512>::run<4, 4>(queries, query_count, rows, row_count, dim, scores, ld);
}

float dot_avx512(const float* a, const float* b, int64_t dim) {
  float score = 0;
  DotRowTiles<Avx512>::tile<1, 1>(a, b, dim, &score, 1);
  return score;
}

}  // namespace clipembed::kernels
