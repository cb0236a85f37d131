// The AVX2 path of layer_norm (this file alone is compiled with the AVX2 flags): the AVX-512
// path's scheme on eight rows at a time. Eight columns of them are loaded and transposed, so that
// lane r of each vector holds row r's next value, and one vector add per column carries all eight
// rows' running sums forward in element order: the scalar path's sums, bit for bit.
#include <immintrin.h>

#include <algorithm>

#include "kernels/layer_norm.h"

namespace clipembed::kernels {
namespace {

constexpr int kLanes = 8;

// Lanes [0, count) set: the loads and stores of a row's last, partial group of columns.
inline __m256i lane_mask(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(kLanes, count))),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Transposes eight rows of eight floats: afterwards v[j] holds column j, row r in lane r.
inline void transpose(__m256 v[kLanes]) {
  __m256 t[kLanes];
  for (int i = 0; i < kLanes; i += 2) {
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  // Within each 128-bit lane l, v[4i + e] then holds rows 4i..4i+3 of column 4l + e.
  for (int i = 0; i < kLanes; i += 4) {
    v[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    v[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    v[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    v[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int e = 0; e < 4; ++e) {
    t[e] = _mm256_permute2f128_ps(v[e], v[4 + e], 0x20);
    t[4 + e] = _mm256_permute2f128_ps(v[e], v[4 + e], 0x31);
  }
  for (int j = 0; j < kLanes; ++j) v[j] = t[j];
}

// Adds `count` columns of the rows from `i` to the running sums, in column order: the values, or
// with Squares the squares of (value - mean) (the scalar path's product, then its add).
template <bool Squares>
inline __m256 add_columns(const float* const rows[kLanes], int64_t i, int count, __m256 sums,
                          __m256 mean) {
  const __m256i mask = lane_mask(count);
  __m256 v[kLanes];
  for (int r = 0; r < kLanes; ++r) v[r] = _mm256_maskload_ps(rows[r] + i, mask);
  transpose(v);
  for (int j = 0; j < count; ++j) {
    if constexpr (Squares) {
      const __m256 centred = _mm256_sub_ps(v[j], mean);
      sums = _mm256_add_ps(sums, _mm256_mul_ps(centred, centred));
    } else {
      sums = _mm256_add_ps(sums, v[j]);
    }
  }
  return sums;
}

template <bool Squares>
__m256 row_sums(const float* const rows[kLanes], int64_t dim, __m256 mean) {
  __m256 sums = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= dim; i += kLanes) sums = add_columns<Squares>(rows, i, kLanes, sums, mean);
  if (i < dim) sums = add_columns<Squares>(rows, i, static_cast<int>(dim - i), sums, mean);
  return sums;
}

// Rows [0, n) (n <= 8) from `in`; the lanes past n repeat the last row, and are not written.
void normalize_group(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim, int n,
                     const float* gamma, const float* beta, float eps) {
  const float* rows[kLanes];
  for (int r = 0; r < kLanes; ++r) rows[r] = in + std::min(r, n - 1) * in_ld;
  alignas(32) float mean[kLanes], inv[kLanes];
  _mm256_store_ps(mean, row_sums<false>(rows, dim, _mm256_setzero_ps()));
  for (float& m : mean) m = row_mean(m, dim);
  _mm256_store_ps(inv, row_sums<true>(rows, dim, _mm256_load_ps(mean)));
  for (float& s : inv) s = row_inv_std(s, dim, eps);
  for (int r = 0; r < n; ++r) {
    const __m256 m = _mm256_set1_ps(mean[r]), s = _mm256_set1_ps(inv[r]);
    float* y = out + r * out_ld;
    for (int64_t i = 0; i < dim; i += kLanes) {
      const __m256i mask = lane_mask(dim - i);
      const __m256 x = _mm256_maskload_ps(rows[r] + i, mask);
      const __m256 scaled =
          _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(x, m), s), _mm256_maskload_ps(gamma + i, mask));
      _mm256_maskstore_ps(y + i, mask, _mm256_add_ps(scaled, _mm256_maskload_ps(beta + i, mask)));
    }
  }
}

}  // namespace

void layer_norm_avx2(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                     int64_t begin, int64_t end, const float* gamma, const float* beta, float eps) {
  for (int64_t r = begin; r < end; r += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, end - r));
    normalize_group(in + r * in_ld, in_ld, out + r * out_ld, out_ld, dim, n, gamma, beta, eps);
  }
}

}  // namespace clipembed::kernels
