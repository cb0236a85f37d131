// AVX2 + FMA paths of the bias + activation kernel. This file alone is compiled with -mavx2 -mfma;
// it is only called when cpu_features() reports both. The scalar definitions in activation.cc are
// the reference its test compares against.
#include <immintrin.h>

#include <cmath>

#include "kernels/activation.h"
#include "kernels/activation_simd.h"

namespace clipembed::kernels {
namespace {

// exp(x) for float32 lanes: Cephes' range reduction (x = n ln2 + r, |r| <= ln2 / 2, ln2 split in
// two for accuracy) and its degree-5 polynomial for e^r; about 1 ulp over the clamped range.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i pow2n =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n));
}

// x * sigmoid(1.702 x) = x / (1 + exp(-1.702 x)).
inline __m256 quick_gelu_ps(__m256 x) {
  const __m256 e = exp_ps(_mm256_mul_ps(x, _mm256_set1_ps(-1.702f)));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

// 0.5 x (1 + erf(x / sqrt 2)), erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), which is
// below float32 resolution of the result.
inline __m256 gelu_ps(__m256 x) {
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 az = _mm256_andnot_ps(sign_mask, z);
  const __m256 t = _mm256_div_ps(
      _mm256_set1_ps(1.0f), _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
  __m256 poly = _mm256_set1_ps(1.061405429f);
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-1.453152027f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
  poly = _mm256_mul_ps(poly, t);
  const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az)));
  const __m256 erf_abs = _mm256_fnmadd_ps(poly, e, _mm256_set1_ps(1.0f));
  const __m256 erf = _mm256_or_ps(erf_abs, _mm256_and_ps(sign_mask, z));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                       _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

template <typename Vec, typename Scalar>
void apply_rows(float* x, int64_t ld, int64_t row_begin, int64_t row_end, int64_t col_begin,
                int64_t col_end, const float* bias, Vec vec, Scalar scalar) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* row = x + r * ld;
    int64_t c = col_begin;
    for (; c + 8 <= col_end; c += 8) {
      __m256 v = _mm256_loadu_ps(row + c);
      if (bias != nullptr) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + c));
      _mm256_storeu_ps(row + c, vec(v));
    }
    for (; c < col_end; ++c) row[c] = scalar(row[c] + (bias != nullptr ? bias[c] : 0.0f));
  }
}

}  // namespace

void bias_activation_avx2(float* x, int64_t ld, int64_t row_begin, int64_t row_end,
                          int64_t col_begin, int64_t col_end, const float* bias, Activation act) {
  switch (act) {
    case Activation::kNone:
      apply_rows(
          x, ld, row_begin, row_end, col_begin, col_end, bias, [](__m256 v) { return v; },
          [](float v) { return v; });
      break;
    case Activation::kQuickGelu:
      // The tail uses the same vector formula on a padded lane so every column is treated alike.
      apply_rows(x, ld, row_begin, row_end, col_begin, col_end, bias, quick_gelu_ps,
                 [](float v) { return _mm256_cvtss_f32(quick_gelu_ps(_mm256_set1_ps(v))); });
      break;
    case Activation::kGelu:
      apply_rows(x, ld, row_begin, row_end, col_begin, col_end, bias, gelu_ps,
                 [](float v) { return _mm256_cvtss_f32(gelu_ps(_mm256_set1_ps(v))); });
      break;
  }
}

}  // namespace clipembed::kernels
