// The AVX-512 path of layer_norm (this file alone is compiled with the AVX-512 flags). Sixteen
// rows at a time: sixteen columns of them are loaded and transposed, so that lane r of each vector
// holds row r's next value, and one vector add per column carries all sixteen rows' running sums
// forward in element order: the scalar path's sums, bit for bit, at a sixteenth of the adds.
#include <immintrin.h>

#include <algorithm>

#include "kernels/layer_norm.h"

namespace clipembed::kernels {
namespace {

constexpr int kLanes = 16;

// Transposes sixteen rows of sixteen floats: afterwards v[j] holds column j, row r in lane r.
inline void transpose(__m512 v[kLanes]) {
  __m512 t[kLanes];
  for (int i = 0; i < kLanes; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  // Within each 128-bit lane l, v[4i + e] then holds rows 4i..4i+3 of column 4l + e.
  for (int i = 0; i < kLanes; i += 4) {
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int e = 0; e < 4; ++e) {
    const __m512 low01 = _mm512_shuffle_f32x4(v[e], v[4 + e], 0x88);
    const __m512 high01 = _mm512_shuffle_f32x4(v[e], v[4 + e], 0xDD);
    const __m512 low23 = _mm512_shuffle_f32x4(v[8 + e], v[12 + e], 0x88);
    const __m512 high23 = _mm512_shuffle_f32x4(v[8 + e], v[12 + e], 0xDD);
    t[e] = _mm512_shuffle_f32x4(low01, low23, 0x88);
    t[4 + e] = _mm512_shuffle_f32x4(high01, high23, 0x88);
    t[8 + e] = _mm512_shuffle_f32x4(low01, low23, 0xDD);
    t[12 + e] = _mm512_shuffle_f32x4(high01, high23, 0xDD);
  }
  for (int j = 0; j < kLanes; ++j) v[j] = t[j];
}

// Adds `count` columns of the rows from `i` to the running sums, in column order: the values, or
// with Squares the squares of (value - mean) (the scalar path's product, then its add).
template <bool Squares>
inline __m512 add_columns(const float* const rows[kLanes], int64_t i, int count, __m512 sums,
                          __m512 mean) {
  const auto mask = static_cast<__mmask16>((1u << count) - 1u);
  __m512 v[kLanes];
  for (int r = 0; r < kLanes; ++r) v[r] = _mm512_maskz_loadu_ps(mask, rows[r] + i);
  transpose(v);
  for (int j = 0; j < count; ++j) {
    if constexpr (Squares) {
      const __m512 centred = _mm512_sub_ps(v[j], mean);
      sums = _mm512_add_ps(sums, _mm512_mul_ps(centred, centred));
    } else {
      sums = _mm512_add_ps(sums, v[j]);
    }
  }
  return sums;
}

template <bool Squares>
__m512 row_sums(const float* const rows[kLanes], int64_t dim, __m512 mean) {
  __m512 sums = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= dim; i += kLanes) sums = add_columns<Squares>(rows, i, kLanes, sums, mean);
  if (i < dim) sums = add_columns<Squares>(rows, i, static_cast<int>(dim - i), sums, mean);
  return sums;
}

// Rows [0, n) (n <= 16) from `in`; the lanes past n repeat the last row, and are not written.
void normalize_group(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim, int n,
                     const float* gamma, const float* beta, float eps) {
  const float* rows[kLanes];
  for (int r = 0; r < kLanes; ++r) rows[r] = in + std::min(r, n - 1) * in_ld;
  alignas(64) float mean[kLanes], inv[kLanes];
  _mm512_store_ps(mean, row_sums<false>(rows, dim, _mm512_setzero_ps()));
  for (float& m : mean) m = row_mean(m, dim);
  _mm512_store_ps(inv, row_sums<true>(rows, dim, _mm512_load_ps(mean)));
  for (float& s : inv) s = row_inv_std(s, dim, eps);
  for (int r = 0; r < n; ++r) {
    const __m512 m = _mm512_set1_ps(mean[r]), s = _mm512_set1_ps(inv[r]);
    float* y = out + r * out_ld;
    for (int64_t i = 0; i < dim; i += kLanes) {
      const auto mask = static_cast<__mmask16>(
          dim - i >= kLanes ? 0xFFFFu : (1u << static_cast<unsigned>(dim - i)) - 1u);
      const __m512 x = _mm512_maskz_loadu_ps(mask, rows[r] + i);
      const __m512 scaled = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(x, m), s),
                                          _mm512_maskz_loadu_ps(mask, gamma + i));
      _mm512_mask_storeu_ps(y + i, mask,
                            _mm512_add_ps(scaled, _mm512_maskz_loadu_ps(mask, beta + i)));
    }
  }
}

}  // namespace

void layer_norm_avx512(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                       int64_t begin, int64_t end, const float* gamma, const float* beta,
                       float eps) {
  int64_t r = begin;
  for (; r + kLanes / 2 < end; r += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, end - r));
    normalize_group(in + r * in_ld, in_ld, out + r * out_ld, out_ld, dim, n, gamma, beta, eps);
  }
  // Eight rows or fewer (the int8 path normalises eight at a time) take the AVX2 path's eight
  // lanes: sixteen would do twice the work for the same bits.
  if (r < end) layer_norm_avx2(in, in_ld, out, out_ld, dim, r, end, gamma, beta, eps);
}

}  // namespace clipembed::kernels
