// The AVX2 path of dot_rows (this file alone is compiled with the AVX2 flags): dot_rows_tiles.h
// with the sixteen lanes in two vectors of eight.
#include <immintrin.h>

#include "kernels/dot_rows.h"
#include "kernels/dot_rows_tiles.h"

namespace clipembed::kernels {
namespace {

struct Avx2 {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static Mask first(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load(Mask mask, const float* p) { return _mm256_maskload_ps(p, mask); }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static float sum16(const Vec parts[2]) {
    const __m256 eight = _mm256_add_ps(parts[0], parts[1]);  // l + (l + 8)
    // l + (l + 4), then l + (l + 2), then lane 0 + lane 1.
    __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
    four = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(four, _mm_shuffle_ps(four, four, 1)));
  }
};

}  // namespace

void dot_rows_avx2(const float* queries, int64_t query_count, const float* rows, int64_t row_count,
                   int64_t dim, float* scores, int64_t ld) {
  // Twelve of the sixteen registers hold sums for two queries or, alone, eight for four rows.
  if (query_count == 1) {
    return DotRowTiles<Avx2>::run<1, 4>(queries, query_count, rows, row_count, dim, scores, ld);
  }
  DotRowTiles<Avx2>::run<2, 3>(queries, query_count, rows, row_count, dim, scores, ld);
}

float dot_avx2(const float* a, const float* b, int64_t dim) {
  float score = 0;
  DotRowTiles<Avx2>::tile<1, 1>(a, b, dim, &score, 1);
  return score;
}

}  // namespace clipembed::kernels
